import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageCacheDir, unpackOciLayout } from '../../src/image/oci-image.js';
import { buildLayout, layer, type FixtureImage } from './oci-fixture.js';
import { tarball } from './tar-fixture.js';

const sha256hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('image blobs are verified as they are read', () => {
  let dir: string;
  let n = 0;
  const env = process.env.MAYU_CACHE_DIR;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-blob-'));
    process.env.MAYU_CACHE_DIR = join(dir, 'cache');
  });
  after(() => {
    if (env === undefined) delete process.env.MAYU_CACHE_DIR;
    else process.env.MAYU_CACHE_DIR = env;
    rmSync(dir, { recursive: true, force: true });
  });

  function layout(image: FixtureImage): { path: string; manifest: string; layers: string[] } {
    const path = join(dir, `layout-${++n}`);
    const manifest = buildLayout(path, image);
    return { path, manifest, layers: image.layers.map((l) => `sha256:${sha256hex(l.content)}`) };
  }
  const cacheLeft = (): string[] => (existsSync(join(imageCacheDir(), 'v2')) ? readdirSync(join(imageCacheDir(), 'v2')) : []);
  const good = (name: string): Buffer => tarball([{ name, body: `${name}\n` }]);

  it('unpacks gzip and plain tar layers', async () => {
    const l = layout({ layers: [layer(good('one')), layer(good('two'), { gzip: false })] });
    const img = await unpackOciLayout(l.path);
    assert.ok(existsSync(join(img.rootfs, 'one')) && existsSync(join(img.rootfs, 'two')));
    assert.deepEqual(cacheLeft(), [`sha256-${l.manifest.slice(7)}`]);
  });

  it('refuses a layer that does not match its digest: the error names it, nothing is cached', async () => {
    const content = layer(good('a')).content;
    const stored = layer(tarball([{ name: 'a', body: 'tampered\n' }])).content;
    const l = layout({ layers: [layer(good('base')), { ...layer(good('a')), content, stored, size: stored.length }] });
    const before = cacheLeft();
    await assert.rejects(unpackOciLayout(l.path), { code: 'ERR_INVALID_ARGUMENT', message: `blob ${l.layers[1]} does not match its digest (its content is sha256:${sha256hex(stored)})` });
    assert.deepEqual(cacheLeft(), before, 'no entry and no temporary directory left');
  });

  it('names the digest where a corrupt layer also breaks the tar', async () => {
    const content = layer(good('x'), { gzip: false }).content;
    const stored = Buffer.from(content);
    stored[10] = 0x41; // breaks the header checksum
    const l = layout({ layers: [{ ...layer(good('x'), { gzip: false }), content, stored }] });
    await assert.rejects(unpackOciLayout(l.path), (err: Error & { cause?: Error }) => {
      assert.match(err.message, new RegExp(`^blob ${l.layers[0]} does not match its digest`));
      assert.match(String(err.cause?.message), /bad header checksum/);
      return true;
    });
  });

  it('refuses a size that does not match the descriptor', async () => {
    const l = layout({ layers: [layer(good('s'), { size: 3 })] });
    await assert.rejects(unpackOciLayout(l.path), { code: 'ERR_INVALID_ARGUMENT', message: new RegExp(`^blob ${l.layers[0]} is \\d+ bytes, its descriptor says 3$`) });
  });

  it('refuses a symlinked blob (no link is followed)', async () => {
    const l = layout({ layers: [layer(good('sym'), { as: 'symlink' })] });
    await assert.rejects(unpackOciLayout(l.path), { code: 'ERR_INVALID_ARGUMENT', message: `blob ${l.layers[0]} is not a regular file (a symlink)` });
  });

  it('refuses a FIFO blob without hanging', async function () {
    this.timeout(5000);
    const l = layout({ layers: [layer(good('fifo'), { as: 'fifo' })] });
    await assert.rejects(unpackOciLayout(l.path), { code: 'ERR_INVALID_ARGUMENT', message: `blob ${l.layers[0]} is not a regular file` });
  });

  it('refuses a blobs directory that is a symlink', async () => {
    const l = layout({ layers: [layer(good('d'))] });
    renameSync(join(l.path, 'blobs'), join(l.path, 'real-blobs'));
    symlinkSync('real-blobs', join(l.path, 'blobs'));
    await assert.rejects(unpackOciLayout(l.path), { message: /blobs is not a directory/ });
  });

  it('verifies the manifest and config blobs too', async () => {
    const stored = Buffer.from('{"schemaVersion":2,"config":{},"layers":[]}');
    const l = layout({ layers: [layer(good('m'))], manifest: { stored, size: stored.length } });
    await assert.rejects(unpackOciLayout(l.path), { message: new RegExp(`^blob ${l.manifest} does not match its digest`) });
  });

  it('refuses zstd layers, naming the media type and digest', async () => {
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(60)]);
    const l = layout({ layers: [{ content: zstd, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] });
    await assert.rejects(unpackOciLayout(l.path), {
      code: 'ERR_UNIMPLEMENTED',
      message: `layer ${l.layers[0]} (application/vnd.oci.image.layer.v1.tar+zstd) is zstd-compressed, which mayu does not unpack yet`,
    });
  });
});
