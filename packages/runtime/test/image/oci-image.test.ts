import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveImage } from '../../src/image/oci-image.js';

const script = fileURLToPath(new URL('../../../../../scripts/build-example-image.mjs', import.meta.url));

describe('images for mayu run', () => {
  let dir: string;
  const env = process.env.MAYU_CACHE_DIR;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-oci-'));
    process.env.MAYU_CACHE_DIR = join(dir, 'cache');
    execFileSync(process.execPath, [script, join(dir, 'layout'), '--archive', join(dir, 'image.tar'), '--whiteout']);
  });
  after(() => {
    if (env === undefined) delete process.env.MAYU_CACHE_DIR;
    else process.env.MAYU_CACHE_DIR = env;
    rmSync(dir, { recursive: true, force: true });
  });

  it('unpacks an OCI layout, applying whiteouts, and caches it by manifest digest', async () => {
    const img = await resolveImage(join(dir, 'layout'));
    assert.match(img.digest ?? '', /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(img.config.cmd, ['sh']);
    assert.ok(img.config.env.includes('IMAGE=mayu-example'));
    assert.ok(existsSync(join(img.rootfs, 'bin/busybox')));
    assert.ok(!existsSync(join(img.rootfs, 'etc/motd')), 'the second layer deleted /etc/motd');
    assert.ok(!existsSync(join(img.rootfs, 'etc/.wh.motd')), 'whiteout files are not extracted');
    assert.equal(readFileSync(join(img.rootfs, 'etc/layer2'), 'utf8'), 'from the second layer\n');
    assert.equal((await resolveImage(join(dir, 'layout'))).rootfs, img.rootfs);
  });

  it('reads an OCI archive the same way', async () => {
    const fromTar = await resolveImage(join(dir, 'image.tar'));
    assert.equal(fromTar.digest, (await resolveImage(join(dir, 'layout'))).digest);
  });

  it('takes a plain rootfs directory as it is, and names a bad IMAGE', async () => {
    const plain = await resolveImage((await resolveImage(join(dir, 'layout'))).rootfs);
    assert.equal(plain.digest, null);
    await assert.rejects(resolveImage(join(dir, 'nope')), { code: 'ERR_INVALID_ARGUMENT', message: /IMAGE: does not exist/ });
    await assert.rejects(resolveImage(dir), { message: /neither an OCI image layout .* nor a root filesystem/ });
    await assert.rejects(resolveImage(script), { message: /is not an OCI archive/ });
  });
});
