import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../src/image/image-cache.js';
import { imageCacheDir, unpackOciLayout, type ResolvedImage, type UnpackOptions } from '../../src/image/oci-image.js';
import { buildLayout, layer } from './oci-fixture.js';
import { tarball, type FixtureEntry } from './tar-fixture.js';

const asRoot = process.getuid?.() === 0;

describe('unpacking hostile image layers', () => {
  let dir: string;
  let host: string;
  let n = 0;
  const env = process.env.MAYU_CACHE_DIR;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-hostile-'));
    process.env.MAYU_CACHE_DIR = join(dir, 'cache');
  });
  beforeEach(() => {
    host = join(dir, `host-${++n}`);
    mkdirSync(host);
    writeFileSync(join(host, 'shadow'), 'host secret\n');
  });
  after(() => {
    if (env === undefined) delete process.env.MAYU_CACHE_DIR;
    else process.env.MAYU_CACHE_DIR = env;
    removeTree(dir); // the images have 0555 directories
  });

  /** Unpacks an image of these layers (each a list of tar entries). */
  async function unpack(layers: FixtureEntry[][], options?: UnpackOptions): Promise<ResolvedImage> {
    const layout = join(dir, `layout-${n}`);
    buildLayout(layout, { layers: layers.map((l) => layer(tarball(l))) });
    return unpackOciLayout(layout, options);
  }
  const hostUntouched = (): void => assert.deepEqual(readdirSync(host), ['shadow'], 'nothing written to the host directory');
  const inRoot = (img: ResolvedImage, path: string): string => join(img.rootfs, path);
  const layerDigest = (i: number): string => {
    const manifest = JSON.parse(readFileSync(join(dir, `layout-${n}`, 'index.json'), 'utf8')).manifests[0].digest.slice(7);
    return JSON.parse(readFileSync(join(dir, `layout-${n}`, 'blobs/sha256', manifest), 'utf8')).layers[i].digest;
  };
  const noTempLeft = (): void =>
    assert.deepEqual(
      readdirSync(join(imageCacheDir(), 'v2')).filter((e) => e.startsWith('.')),
      [],
    );

  it('a symlink from one layer to a host directory, written through by the next, stays in the rootfs', async () => {
    const img = await unpack([[{ name: 'x', type: 'symlink', linkname: host }], [{ name: 'x/evil', body: 'pwned' }]]);
    hostUntouched();
    assert.equal(readlinkSync(inRoot(img, 'x')), host, 'the symlink itself is kept as the image has it');
    assert.equal(readFileSync(inRoot(img, `${host}/evil`), 'utf8'), 'pwned', 'the file lands beneath the rootfs');
  });

  it('symlink chains with ".." hops (and in one layer) stop at the rootfs root', async () => {
    const img = await unpack([
      [
        { name: 'a/', type: 'dir' },
        { name: 'a/up', type: 'symlink', linkname: `../../../../../../../../../..${host}` },
        { name: 'y', type: 'symlink', linkname: 'a/up' },
      ],
      [
        { name: 'y/evil', body: '1' },
        { name: 'z', type: 'symlink', linkname: '../../../../..' },
        { name: 'z/etc/evil', body: '2' },
      ],
    ]);
    hostUntouched();
    assert.equal(readFileSync(inRoot(img, `${host}/evil`), 'utf8'), '1');
    assert.equal(readFileSync(inRoot(img, 'etc/evil'), 'utf8'), '2');
  });

  it('a hard link to a host path links the rootfs file of that name, or fails', async () => {
    const before = statSync(join(host, 'shadow')).nlink;
    await assert.rejects(unpack([[{ name: 'steal', type: 'hardlink', linkname: join(host, 'shadow') }]]), {
      code: 'ERR_INVALID_ARGUMENT',
      message: new RegExp(`entry "steal": hard link target ".*shadow" is not in the image`),
    });
    await assert.rejects(unpack([[{ name: 'x', type: 'symlink', linkname: host }], [{ name: 'steal', type: 'hardlink', linkname: 'x/shadow' }]]), {
      message: /hard link target "x\/shadow" is not in the image/,
    });
    assert.equal(statSync(join(host, 'shadow')).nlink, before, 'the host file gained no link');
    const img = await unpack([[{ name: 'etc/shadow', body: 'image shadow\n' }], [{ name: 'steal', type: 'hardlink', linkname: '/etc/shadow' }]]);
    assert.equal(readFileSync(inRoot(img, 'steal'), 'utf8'), 'image shadow\n');
    assert.equal(statSync(inRoot(img, 'steal')).ino, statSync(inRoot(img, 'etc/shadow')).ino);
    assert.equal(statSync(join(host, 'shadow')).nlink, before);
    noTempLeft();
  });

  it('a hard link to a symlink links the symlink, not what it points to', async () => {
    const img = await unpack([
      [
        { name: 'l', type: 'symlink', linkname: join(host, 'shadow') },
        { name: 'h', type: 'hardlink', linkname: 'l' },
      ],
    ]);
    assert.ok(lstatSync(inRoot(img, 'h')).isSymbolicLink());
    assert.equal(statSync(join(host, 'shadow')).nlink, 1);
  });

  it('hard links within the image work', async () => {
    const img = await unpack([
      [
        { name: 'bin/busybox', body: 'elf', mode: 0o755 },
        { name: 'bin/sh', type: 'hardlink', linkname: 'bin/busybox' },
      ],
    ]);
    assert.equal(statSync(inRoot(img, 'bin/sh')).ino, statSync(inRoot(img, 'bin/busybox')).ino);
    assert.equal(statSync(inRoot(img, 'bin/sh')).nlink, 2);
  });

  it('refuses "../" names, naming the layer digest and the entry', async () => {
    for (const name of ['../evil', 'a/../../evil', './../evil']) {
      await assert.rejects(
        unpack([
          [
            { name: 'ok', body: '' },
            { name, body: 'x' },
          ],
        ]),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
          assert.equal(err.message, `layer ${layerDigest(0)}: entry ${JSON.stringify(name)} has a ".." component`);
          return true;
        },
      );
    }
    assert.ok(!existsSync(join(dir, 'evil')) && !existsSync(join(dir, 'cache', 'evil')));
    noTempLeft();
  });

  it('puts absolute names beneath the rootfs', async () => {
    const img = await unpack([
      [
        { name: `${host}/abs`, body: 'x' },
        { name: '/etc/hostname', body: 'h' },
      ],
    ]);
    hostUntouched();
    assert.equal(readFileSync(inRoot(img, `${host}/abs`), 'utf8'), 'x');
    assert.equal(readFileSync(inRoot(img, 'etc/hostname'), 'utf8'), 'h');
  });

  it('refuses whiteouts named ".wh.", ".wh.." and ".wh...", naming the entry', async () => {
    for (const bad of ['.wh.', '.wh..', '.wh...']) {
      await assert.rejects(unpack([[{ name: 'a/keep', body: 'k' }], [{ name: `a/${bad}` }]]), {
        code: 'ERR_INVALID_ARGUMENT',
        message: new RegExp(`^layer sha256:[0-9a-f]{64}: whiteout "a/${bad.replace(/\./g, '\\.')}" names`),
      });
    }
    noTempLeft();
  });

  it('applies whiteouts beneath the rootfs only, never writing them', async () => {
    const img = await unpack([
      [
        { name: 'etc/motd', body: 'm' },
        { name: 'x', type: 'symlink', linkname: host },
        { name: 'gone/deep/file', body: 'f' },
      ],
      [{ name: 'etc/.wh.motd' }, { name: 'x/.wh.shadow' }, { name: '.wh.gone' }, { name: 'etc/new', body: 'n' }, { name: 'etc/.wh.new' }],
    ]);
    hostUntouched();
    assert.ok(!existsSync(inRoot(img, 'etc/motd')) && !existsSync(inRoot(img, 'gone')));
    assert.ok(!existsSync(inRoot(img, 'etc/.wh.motd')));
    assert.equal(readFileSync(inRoot(img, 'etc/new'), 'utf8'), 'n', "a layer's whiteout does not hide its own files");
  });

  it('opaque whiteouts empty a directory of the lower layers only', async () => {
    const img = await unpack([
      [
        { name: 'd/old', body: '' },
        { name: 'd/sub/old2', body: '' },
        { name: 'e/keep', body: '' },
      ],
      [{ name: 'd/', type: 'dir' }, { name: 'd/sub/new2', body: '' }, { name: 'd/.wh..wh..opq' }, { name: 'd/new', body: '' }],
    ]);
    assert.deepEqual(readdirSync(inRoot(img, 'd')).sort(), ['new', 'sub']);
    assert.deepEqual(readdirSync(inRoot(img, 'd/sub')), ['new2']);
    assert.ok(existsSync(inRoot(img, 'e/keep')));
  });

  it('drops device nodes and FIFOs, and counts them', async () => {
    const img = await unpack([
      [
        { name: 'dev/sda', type: 'block' },
        { name: 'dev/mem', type: 'char' },
        { name: 'pipe', type: 'fifo' },
        { name: 'f', body: '' },
      ],
    ]);
    assert.equal(img.droppedEntries, 3);
    assert.ok(!existsSync(inRoot(img, 'dev/sda')) && !existsSync(inRoot(img, 'dev/mem')) && !existsSync(inRoot(img, 'pipe')));
  });

  it('keeps setuid bits and owners, inside a cache only its owner may enter', async () => {
    const img = await unpack([
      [
        { name: 'bin/su', body: 'elf', mode: 0o4755, uid: 0, gid: 0 },
        { name: 'home/u/f', body: '', uid: 1000, gid: 1000, mode: 0o640 },
      ],
    ]);
    assert.equal(statSync(inRoot(img, 'bin/su')).mode & 0o7777, 0o4755);
    assert.equal(statSync(inRoot(img, 'home/u/f')).mode & 0o7777, 0o640);
    if (asRoot) assert.equal(statSync(inRoot(img, 'home/u/f')).uid, 1000);
    for (const d of [imageCacheDir(), join(imageCacheDir(), 'v2'), join(img.rootfs, '..')]) assert.equal(statSync(d).mode & 0o777, 0o700, d);
  });

  it('replaces files by directories and directories by files, never through a symlink', async () => {
    const img = await unpack([
      [
        { name: 'a', body: 'file' },
        { name: 'b/c', body: '' },
        { name: 'l', type: 'symlink', linkname: host },
      ],
      [
        { name: 'a/', type: 'dir' },
        { name: 'b', body: 'now a file' },
        { name: 'l', body: 'replaces the symlink' },
      ],
    ]);
    assert.ok(statSync(inRoot(img, 'a')).isDirectory());
    assert.equal(readFileSync(inRoot(img, 'b'), 'utf8'), 'now a file');
    assert.equal(readFileSync(inRoot(img, 'l'), 'utf8'), 'replaces the symlink');
    hostUntouched();
  });

  it('sets directory modes last (a 0555 directory still gets its files) and never through a symlink', async () => {
    const img = await unpack([
      [
        { name: 'ro/', type: 'dir', mode: 0o555 },
        { name: 'ro/a', body: '' },
        { name: 'p/', type: 'dir', mode: 0o700 },
      ],
      [
        { name: 'ro/b', body: '' },
        { name: 'p', type: 'symlink', linkname: host },
      ],
    ]);
    assert.equal(statSync(inRoot(img, 'ro')).mode & 0o777, 0o555);
    assert.deepEqual(readdirSync(inRoot(img, 'ro')).sort(), ['a', 'b']);
    assert.equal(statSync(host).mode & 0o777, 0o755, 'the host directory kept its mode');
  });

  it('reads PAX long paths and link targets', async () => {
    const long = `${'a'.repeat(100)}/${'b'.repeat(100)}/${'c'.repeat(100)}`;
    const img = await unpack([
      [
        { name: 'x', body: 'deep', pax: { path: `${long}/file` } },
        { name: 'l', type: 'symlink', pax: { linkpath: `${long}/file` } },
      ],
    ]);
    assert.equal(readFileSync(inRoot(img, `${long}/file`), 'utf8'), 'deep');
    assert.equal(readFileSync(inRoot(img, 'l'), 'utf8'), 'deep');
  });

  it('bounds the entries of a layer and the bytes of an image, naming the layer', async () => {
    await assert.rejects(unpack([[{ name: 'a' }, { name: 'b' }, { name: 'c' }]], { limits: { maxEntriesPerLayer: 2 } }), {
      code: 'ERR_RESOURCE_EXHAUSTED',
      message: /^layer sha256:[0-9a-f]{64}: has more than 2 entries$/,
    });
    await assert.rejects(unpack([[{ name: 'a', body: 'x'.repeat(3000) }], [{ name: 'b', body: 'y'.repeat(3000) }]], { limits: { maxUnpackedBytes: 6000 } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_RESOURCE_EXHAUSTED');
      assert.equal(err.message, `layer ${layerDigest(1)}: the image unpacks to more than 6000 bytes`);
      return true;
    });
    noTempLeft();
  });
});
