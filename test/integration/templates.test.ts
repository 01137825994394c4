import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { locateGuestImage, TemplateStore } from '@mayu/runtime';
import pino from 'pino';
import { ARTIFACTS, useGuestFactory } from '../helpers/guest-factory.js';
import { imageSpec, runIn } from '../helpers/in-guest.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { finished, runMayu, startMayu } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';

/** What a container sees of its VM: 16 bytes of urandom, the wall clock, the hostname, the kernel's boot id. */
const IDENTITY = 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; date +%s; hostname; cat /proc/sys/kernel/random/boot_id';

/** The VM's own UTS namespace (no uts entry, no hostname of its own): `hostname` is the sandbox's. */
const withVmHostname = (s: Record<string, unknown>): void => {
  const linux = s.linux as { namespaces: { type: string }[] };
  linux.namespaces = linux.namespaces.filter((n) => n.type !== 'uts');
  delete s.hostname;
};

/**
 * VM templates on real QEMU: a template VM booted to its agent and saved,
 * sandboxes started as clones of it. Each test has a template directory of
 * its own (a tmpfs under /run, removed after it).
 */
describe('VM templates: sandboxes cloned from a saved VM (real QEMU)', function () {
  const vms = useGuestFactory();
  let dir: string;
  let toml: string;
  const store = (): TemplateStore => new TemplateStore(dir, pino({ level: 'silent' }));
  beforeEach(() => {
    dir = mkdtempSync('/run/mayu-test-tpl-');
    toml = `[factory]\ntemplate = true\ntemplate_dir = "${dir}"`;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('two clones get their own clock, randomness, boot id and hostname, and run containers', async () => {
    const { sandbox: a, report: ra } = await vms().boot({ toml, id: 'tpl-a', hostname: 'clone-a' });
    const { sandbox: b, report: rb } = await vms().boot({ toml, id: 'tpl-b', hostname: 'clone-b' });
    assert.deepEqual([ra.timings.restored, rb.timings.restored], [true, true], 'both started as clones (the first after building the template)');
    assert.equal(store().list().length, 1, 'one template for both');
    assert.ok(rb.timings.firstRpcMs < 1500, `a clone answers quickly (first RPC ${rb.timings.firstRpcMs} ms; a cold boot takes ~2 s here)`);
    const ga = await runIn(a, 'who', await imageSpec(['sh', '-c', IDENTITY], {}, withVmHostname));
    const gb = await runIn(b, 'who', await imageSpec(['sh', '-c', IDENTITY], {}, withVmHostname));
    assert.equal(ga.status, 0, ga.stderr);
    assert.equal(gb.status, 0, gb.stderr);
    const [randA, clockA, hostA, bootA] = ga.stdout.trim().split('\n');
    const [randB, clockB, hostB, bootB] = gb.stdout.trim().split('\n');
    assert.match(randA ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(randA, randB, "each clone's kernel random state was reseeded");
    const now = Date.now() / 1000;
    for (const clock of [clockA, clockB]) assert.ok(Math.abs(Number(clock) - now) < 10, `the guest clock is the host's (${clock} vs ${now.toFixed(0)}), not the template's`);
    assert.deepEqual([hostA, hostB], ['clone-a', 'clone-b']);
    assert.notEqual(bootA, bootB, 'the boot id too (the kernel makes it on first read, after the reseed)');
    // The template ran a warm-up container before it was saved: nothing of it is left in a clone.
    const again = await runIn(b, 'mayu-template-warm-up', await imageSpec(['true']));
    assert.equal(again.status, 0, again.stderr);
    // The clone maps the template's RAM privately.
    const cmdline = processesMentioning(a.stateDir).find((p) => p.cmdline.includes('qemu-system'))?.cmdline ?? '';
    assert.ok(cmdline.includes(`mem-path=${join(dir, store().list()[0]?.manifest.key ?? '?', 'memory')},share=off`), cmdline);
    assert.ok(cmdline.includes('-incoming defer'));
  });

  it('on q35, a clone gets a new VM generation id and its kernel reseeds itself on restore', async () => {
    const q35 = `${toml}\n[hypervisor.qemu]\nmachine_type = "q35"`;
    // loglevel=6: the kernel's notices reach the console.
    const { sandbox, report } = await vms().boot({ toml: q35, kernelParams: 'loglevel=6' });
    assert.equal(report.timings.restored, true);
    const consoleLog = join(sandbox.stateDir, 'console.log');
    let text = '';
    for (let waited = 0; !text.includes('virtual machine fork') && waited < 10_000; waited += 250) {
      await sleep(250);
      text = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '';
    }
    assert.match(text, /crng reseeded due to virtual machine fork/, 'the vmgenid driver saw the new id');
    assert.match(processesMentioning(sandbox.stateDir).find((p) => p.cmdline.includes('qemu-system'))?.cmdline ?? '', /vmgenid,guid=auto/);
  });

  it('a template of another guest image is never used: a changed image gets a new template', async () => {
    // A copy of the guest image, so that it can change under the test.
    const image = locateGuestImage('');
    const copy = mkdtempSync(join(ARTIFACTS, 'image-copy-'));
    try {
      for (const f of readdirSync(image.dir)) copyFileSync(join(image.dir, f), join(copy, f));
      const withImage = `${toml}\n[sandbox]\nguest_image_dir = "${copy}"`;
      const first = await vms().boot({ toml: withImage });
      assert.equal(first.report.timings.restored, true);
      const [before] = store().list();
      // The kernel is rebuilt in place (same path, new file).
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(copy, 'vmlinux'), later, later);
      const second = await vms().boot({ toml: withImage });
      assert.equal(second.report.timings.restored, true);
      const keys = store()
        .list()
        .map((t) => t.manifest.key);
      assert.equal(keys.length, 2);
      assert.ok(keys.includes(before?.manifest.key ?? '') && keys[0] !== before?.manifest.key, 'the newest template is another one');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('a clone that cannot be restored drops its template and boots cold', async () => {
    await vms().boot({ toml });
    const [t] = store().list();
    assert.ok(t);
    truncateSync(t.stateFile, 100);
    const { sandbox, report } = await vms().boot({ toml });
    assert.equal(report.timings.restored, false, 'booted cold');
    assert.equal(store().get(t.manifest.key), null, 'the broken template is gone');
    assert.equal(await sandbox.agent.check(), 'serving');
  });

  it('two sandboxes starting at once build one template: the other boots cold meanwhile', async () => {
    const [x, y] = await Promise.all([vms().boot({ toml, id: 'race-x' }), vms().boot({ toml, id: 'race-y' })]);
    assert.deepEqual([x.report.timings.restored, y.report.timings.restored].sort(), [false, true]);
    assert.equal(store().list().length, 1);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.')),
      [],
      'no lock or build directory left',
    );
  });

  it('a template build killed half-way (its mayu run killed) leaves nothing usable; the next sandbox cleans up and builds it', async () => {
    const config = vms().configFile(toml);
    const child = startMayu(['run', '--rm', '--config', config, (await testImage()).layout, '--', 'true']);
    // Until the template VM is up (its RAM file exists in a build directory).
    let building = '';
    for (let i = 0; i < 300 && !building; i++) {
      await sleep(50);
      building = readdirSync(dir).find((n) => n.startsWith('.build-') && existsSync(join(dir, n, 'memory'))) ?? '';
    }
    assert.ok(building, 'a build started');
    child.kill('SIGKILL');
    await finished(child);
    for (let i = 0; i < 100 && processesMentioning(join(dir, building)).length > 0; i++) await sleep(50);
    assert.deepEqual(processesMentioning(join(dir, building)), [], 'the template VM died with its builder (parent-death signal)');
    assert.deepEqual(store().list(), [], 'no template is usable');
    // The killed run's own leftovers (its sandbox's mounts) go as for any killed run.
    assert.equal((await runMayu(['ps', '-a', '--config', config])).code, 0);
    const { report } = await vms().boot({ toml });
    assert.equal(report.timings.restored, true);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.')),
      [],
      "the killed builder's directory and lock are gone",
    );
  });
});
