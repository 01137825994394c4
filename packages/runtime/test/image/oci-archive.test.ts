import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { imageCacheDir, resolveImage } from '../../src/image/oci-image.js';
import { buildLayout, layer } from './oci-fixture.js';
import { gzip, tarball, type FixtureEntry } from './tar-fixture.js';

/** The entries of a tar of directory `dir` (files and directories). */
function entriesOf(dir: string, base = dir): FixtureEntry[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const rel = relative(base, path);
    return statSync(path).isDirectory() ? [{ name: `./${rel}/`, type: 'dir' as const }, ...entriesOf(path, base)] : [{ name: `./${rel}`, body: readFileSync(path) }];
  });
}

describe('OCI archives', () => {
  let dir: string;
  let layout: string;
  const env = process.env.MAYU_CACHE_DIR;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-archive-'));
    process.env.MAYU_CACHE_DIR = join(dir, 'cache');
    layout = join(dir, 'layout');
    buildLayout(layout, { layers: [layer(tarball([{ name: 'etc/os-release', body: 'ID=mayu\n' }]))] });
  });
  after(() => {
    if (env === undefined) delete process.env.MAYU_CACHE_DIR;
    else process.env.MAYU_CACHE_DIR = env;
    rmSync(dir, { recursive: true, force: true });
  });
  const archive = (name: string, data: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };
  const noTempLeft = (): void =>
    assert.deepEqual(
      readdirSync(join(imageCacheDir(), 'v2')).filter((e) => e.startsWith('.')),
      [],
    );

  it('reads an archive, gzip-compressed or not, through a temporary layout that is removed', async () => {
    const plain = await resolveImage(archive('plain.tar', tarball([{ name: './', type: 'dir' }, ...entriesOf(layout)])));
    const zipped = await resolveImage(archive('zipped.tar.gz', gzip(tarball(entriesOf(layout)))));
    assert.equal(readFileSync(join(plain.rootfs, 'etc/os-release'), 'utf8'), 'ID=mayu\n');
    assert.equal(zipped.rootfs, plain.rootfs);
    noTempLeft();
  });

  for (const [what, bad] of [
    ['a symlink', { name: 'blobs/sha256/link', type: 'symlink', linkname: '/etc/shadow' }],
    ['a hardlink', { name: 'blobs/sha256/hard', type: 'hardlink', linkname: '/etc/shadow' }],
    ['a char-device', { name: 'blobs/sha256/dev', type: 'char' }],
  ] as const) {
    it(`refuses an archive holding ${what}, naming the entry`, async () => {
      const path = archive('bad.tar', tarball([...entriesOf(layout), bad]));
      await assert.rejects(resolveImage(path), {
        code: 'ERR_INVALID_ARGUMENT',
        message: `IMAGE: ${JSON.stringify(path)} is not an OCI archive (OCI archive ${path}: entry ${JSON.stringify(bad.name)} is ${what}; an OCI archive holds only files and directories)`,
      });
      noTempLeft();
    });
  }

  it('refuses ".." names and keeps absolute names inside the temporary layout', async () => {
    const path = archive('dotdot.tar', tarball([...entriesOf(layout), { name: '../../escaped', body: 'x' }]));
    await assert.rejects(resolveImage(path), { message: /entry "\.\.\/\.\.\/escaped" has a "\.\." component/ });
    const abs = join(dir, 'absolute-escape');
    await resolveImage(archive('abs.tar', tarball([...entriesOf(layout), { name: abs, body: 'x' }])));
    assert.ok(!existsSync(abs) && !existsSync(join(imageCacheDir(), 'escaped')));
    noTempLeft();
  });
});
