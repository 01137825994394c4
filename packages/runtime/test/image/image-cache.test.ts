import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cachedImage } from '../../src/image/image-cache.js';
import { imageCacheDir, unpackOciLayout } from '../../src/image/oci-image.js';
import { buildLayout, layer } from './oci-fixture.js';
import { tarball, type FixtureEntry } from './tar-fixture.js';

const run = promisify(execFile);
const moduleUrl = new URL('../../src/image/oci-image.js', import.meta.url).href;

/** An image of two layers with `files` files each (big enough for unpacks to overlap). */
function manyFiles(tag: string, files: number): FixtureEntry[][] {
  return [0, 1].map((l) => Array.from({ length: files }, (_, i) => ({ name: `d${l}/${tag}-${i}`, body: `${tag} ${l} ${i}\n`.repeat(50) })));
}

describe('the image cache', () => {
  let dir: string;
  const env = process.env.MAYU_CACHE_DIR;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-cache-'));
    process.env.MAYU_CACHE_DIR = join(dir, 'cache');
  });
  after(() => {
    if (env === undefined) delete process.env.MAYU_CACHE_DIR;
    else process.env.MAYU_CACHE_DIR = env;
    rmSync(dir, { recursive: true, force: true });
  });
  const v2 = (): string => join(imageCacheDir(), 'v2');
  const temps = (): string[] => readdirSync(v2()).filter((e) => e.startsWith('.'));

  it('concurrent first unpacks in separate processes all get the same complete rootfs', async function () {
    this.timeout(60000);
    const layout = join(dir, 'concurrent');
    const digest = buildLayout(layout, { layers: manyFiles('c', 300).map((l) => layer(tarball(l))) });
    const script = `const { unpackOciLayout } = await import(${JSON.stringify(moduleUrl)}); const r = await unpackOciLayout(${JSON.stringify(layout)}); console.log(JSON.stringify({ rootfs: r.rootfs, digest: r.digest }));`;
    const results = await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, MAYU_CACHE_DIR: join(dir, 'cache') } })));
    const got = results.map((r) => JSON.parse(r.stdout) as { rootfs: string; digest: string });
    assert.deepEqual(new Set(got.map((g) => g.rootfs)).size, 1);
    assert.equal(got[0]?.digest, digest);
    const rootfs = got[0]?.rootfs;
    assert.equal(readdirSync(join(rootfs, 'd0')).length + readdirSync(join(rootfs, 'd1')).length, 600);
    assert.equal(readFileSync(join(rootfs, 'd1/c-299'), 'utf8'), 'c 1 299\n'.repeat(50));
    assert.ok(existsSync(join(rootfs, '..', 'complete')));
    assert.deepEqual(temps(), []);
  });

  it('concurrent unpacks in one process share one entry, and a complete entry is never rebuilt', async () => {
    const layout = join(dir, 'same-process');
    buildLayout(layout, { layers: manyFiles('p', 50).map((l) => layer(tarball(l))) });
    const all = await Promise.all([1, 2, 3, 4].map(() => unpackOciLayout(layout)));
    assert.equal(new Set(all.map((r) => r.rootfs)).size, 1);
    const ino = statSync(all[0]?.rootfs).ino;
    assert.equal(statSync((await unpackOciLayout(layout)).rootfs).ino, ino);
    assert.deepEqual(temps(), []);
  });

  it('a build that loses the race is discarded and the winner used', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const got = await cachedImage(digest, async (outer) => {
      writeFileSync(join(outer, 'loser'), '');
      await cachedImage(digest, async (inner) => {
        writeFileSync(join(inner, 'winner'), '');
        return { droppedEntries: 1 };
      });
      return { droppedEntries: 0 };
    });
    assert.deepEqual(readdirSync(got.rootfs), ['winner']);
    assert.equal(got.droppedEntries, 1);
    assert.deepEqual(temps(), []);
  });

  it('removes the temporary directory when a build fails', async () => {
    await assert.rejects(
      cachedImage(`sha256:${'cd'.repeat(32)}`, async (rootfs) => {
        mkdirSync(join(rootfs, 'ro'), { mode: 0o555 });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(temps(), []);
    assert.ok(!existsSync(join(v2(), `sha256-${'cd'.repeat(32)}`)));
  });

  it('makes the cache 0700, narrowing a wider one, and ignores entries of the old layout', async () => {
    chmodSync(imageCacheDir(), 0o755);
    const layout = join(dir, 'old');
    const digest = buildLayout(layout, { layers: [layer(tarball([{ name: 'new', body: '' }]))] });
    const old = join(imageCacheDir(), digest.replace(':', '-'));
    mkdirSync(join(old, 'rootfs'), { recursive: true });
    writeFileSync(join(old, 'complete'), `${digest}\n`);
    const img = await unpackOciLayout(layout);
    assert.equal(img.rootfs, join(v2(), digest.replace(':', '-'), 'rootfs'));
    assert.ok(existsSync(join(img.rootfs, 'new')));
    assert.equal(statSync(imageCacheDir()).mode & 0o777, 0o700);
    assert.equal(statSync(v2()).mode & 0o777, 0o700);
  });
});
