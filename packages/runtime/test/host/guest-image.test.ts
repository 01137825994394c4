import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestImageCandidates, locateGuestImage } from '../../src/host/guest-image.js';
import { verifyGuestImage } from '../../src/host/host-check.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('guest image', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-img-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('looks in the configured directory only, when one is configured', () => {
    assert.deepEqual(guestImageCandidates('/opt/img', {}), ['/opt/img']);
    const c = guestImageCandidates('', { MAYU_GUEST_IMAGE_DIR: '/a', MAYU_CACHE_DIR: '/c' });
    assert.deepEqual(c, ['/a', '/c/guest-image/current', '/usr/share/mayu/guest-image']);
  });

  it('says where it looked when there is no image', () => {
    assert.throws(() => locateGuestImage(join(dir, 'none')), { code: 'ERR_GUEST_IMAGE', message: /looked in .*none/ });
  });

  it('reads the manifest and verifies every artifact', async () => {
    const files = { kernel: 'vmlinux', initrd: 'initrd.img', image: 'rootfs.erofs' };
    const artifacts: Record<string, { file: string; bytes: number; sha256: string }> = {};
    for (const [name, file] of Object.entries(files)) {
      writeFileSync(join(dir, file), name);
      artifacts[name] = { file, bytes: name.length, sha256: sha256(name) };
    }
    const manifest = {
      schemaVersion: 1,
      inputsHash: 'x',
      variant: 'release',
      kernel: { release: '6.1', source: 's' },
      agent: { version: '0.1.0', node: 'v20' },
      ociRuntime: 'crun',
      rootfsImageType: 'erofs',
      artifacts,
      builtAt: 'now',
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const image = locateGuestImage(dir);
    assert.equal(image.kernel, join(dir, 'vmlinux'));
    assert.deepEqual(await verifyGuestImage(image), []);
    writeFileSync(join(dir, 'initrd.img'), 'tampered');
    assert.deepEqual(await verifyGuestImage(image), ['initrd (initrd.img) does not match its sha256 in the manifest']);
  });

  it('refuses a manifest of another schema version', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ schemaVersion: 9 }));
    assert.throws(() => locateGuestImage(dir), { code: 'ERR_GUEST_IMAGE', message: /unsupported schemaVersion 9/ });
  });
});
