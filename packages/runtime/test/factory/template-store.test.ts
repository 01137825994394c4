import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TemplateStore, type TemplateManifest } from '../../src/factory/template-store.js';
import { templateKey } from '../../src/factory/vm-factory.js';

const KEY_A = 'aaaaaaaaaaaaaaaa';
const KEY_B = 'bbbbbbbbbbbbbbbb';
const KEY_C = 'cccccccccccccccc';
/** A pid no process has (above the kernel's maximum). */
const DEAD_PID = 4_194_305;

function manifest(key: string, createdAt = new Date().toISOString()): TemplateManifest {
  return { key, createdAt, buildMs: 1, vcpus: 1, memoryMib: 512, image: ['/img 1 1'], nicMacs: [], identity: '{}' };
}

/** A build that writes what a real one writes. */
const fakeBuild =
  (key: string, calls: string[] = [], createdAt?: string) =>
  async (dir: string): Promise<TemplateManifest> => {
    calls.push(key);
    writeFileSync(join(dir, 'memory'), 'ram');
    writeFileSync(join(dir, 'state'), 'devices');
    return manifest(key, createdAt);
  };

describe('VM template store: atomic, locked, bounded', () => {
  let dir: string;
  let store: TemplateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-templates-'));
    store = new TemplateStore(dir, pino({ level: 'silent' }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds a template once, under its key, complete; later callers get it as it is', async () => {
    const calls: string[] = [];
    const t = await store.ensure(KEY_A, 4, fakeBuild(KEY_A, calls));
    assert.equal(t?.dir, join(dir, KEY_A));
    assert.ok(existsSync(t.memoryFile) && existsSync(t.stateFile));
    assert.equal((await store.ensure(KEY_A, 4, fakeBuild(KEY_A, calls)))?.manifest.key, KEY_A);
    assert.deepEqual(calls, [KEY_A], 'built once');
    assert.deepEqual(readdirSync(dir), [KEY_A], 'no build directory or lock is left');
    assert.deepEqual(
      store.list().map((x) => x.manifest.key),
      [KEY_A],
    );
  });

  it('a concurrent caller does not build it again: it is told to boot cold (null)', async () => {
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => (release = r));
    const first = store.ensure(KEY_A, 4, async (d) => {
      await slow;
      return fakeBuild(KEY_A)(d);
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await store.ensure(KEY_A, 4, fakeBuild(KEY_A)), null);
    release();
    assert.equal((await first)?.manifest.key, KEY_A);
  });

  it('a failed build leaves nothing: no template, no build directory, no lock', async () => {
    await assert.rejects(
      store.ensure(KEY_A, 4, async (d) => {
        writeFileSync(join(d, 'memory'), 'half');
        throw new Error('the VM did not boot');
      }),
      /the VM did not boot/,
    );
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(store.get(KEY_A), null);
  });

  it("a killed builder's leftovers are removed and the template built; a live builder's lock is respected", async () => {
    // What a builder killed mid-way leaves: its build directory (half a memory file) and its lock.
    mkdirSync(join(dir, `.build-${KEY_A}-${DEAD_PID}`));
    writeFileSync(join(dir, `.build-${KEY_A}-${DEAD_PID}`, 'memory'), 'half');
    writeFileSync(join(dir, `.lock-${KEY_A}`), `${DEAD_PID}\n`);
    assert.equal(store.get(KEY_A), null, 'nothing half-done is usable');
    assert.equal((await store.ensure(KEY_A, 4, fakeBuild(KEY_A)))?.manifest.key, KEY_A);
    assert.deepEqual(readdirSync(dir), [KEY_A]);
    // PID 1 is alive: its fresh lock is a build in progress.
    writeFileSync(join(dir, `.lock-${KEY_B}`), '1\n');
    assert.equal(await store.ensure(KEY_B, 4, fakeBuild(KEY_B)), null);
    // An old lock is stale whoever's pid it names (pids are reused).
    const old = (Date.now() - 3_600_000) / 1000;
    utimesSync(join(dir, `.lock-${KEY_B}`), old, old);
    assert.equal((await store.ensure(KEY_B, 4, fakeBuild(KEY_B)))?.manifest.key, KEY_B);
  });

  it('keeps at most `max` templates, removing the oldest; remove() and a manifest of another key', async () => {
    await store.ensure(KEY_A, 2, fakeBuild(KEY_A, [], '2026-01-01T00:00:00.000Z'));
    await store.ensure(KEY_B, 2, fakeBuild(KEY_B, [], '2026-01-02T00:00:00.000Z'));
    await store.ensure(KEY_C, 2, fakeBuild(KEY_C, [], '2026-01-03T00:00:00.000Z'));
    assert.deepEqual(
      store.list().map((t) => t.manifest.key),
      [KEY_C, KEY_B],
    );
    assert.equal(store.remove(KEY_B), true);
    assert.equal(store.remove(KEY_B), false);
    await assert.rejects(store.ensure(KEY_A, 2, fakeBuild(KEY_B)), /template build returned key bbbbbbbbbbbbbbbb, not aaaaaaaaaaaaaaaa/);
    await assert.rejects(store.ensure('../x', 2, fakeBuild(KEY_A)), /must be 16 hex digits/);
    assert.deepEqual(readdirSync(dir), [KEY_C]);
  });

  it('keys differ with any input and are stable for the same ones', () => {
    const k = templateKey('{"argv":["-m","512M"]}', ['/img/vmlinux 1 2']);
    assert.match(k, /^[0-9a-f]{16}$/);
    assert.equal(templateKey('{"argv":["-m","512M"]}', ['/img/vmlinux 1 2']), k);
    assert.notEqual(templateKey('{"argv":["-m","768M"]}', ['/img/vmlinux 1 2']), k);
    assert.notEqual(templateKey('{"argv":["-m","512M"]}', ['/img/vmlinux 1 3']), k, 'the image file changed');
  });
});
