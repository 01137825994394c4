import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareContainer, releaseContainerMounts } from '../../src/sandbox/container-setup.js';
import { mountsUnder, removeDirSafely } from '../../src/storage/host-mounts.js';

// Host bind mounts need root, as a runtime does.
describe('container set-up on the host (bind mounts into the shared directory)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/run/mayu-unit-');
    mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'vol/data'), 'volume\n');
    mkdirSync(join(dir, 'shared'));
  });
  afterEach(() => removeDirSafely(dir));

  const spec = (mounts: unknown[] = []) => ({
    ociVersion: '1.0.2',
    process: { args: ['sh'], cwd: '/' },
    root: { path: '/host/rootfs' },
    mounts,
    linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/pod' }] },
  });

  it('binds rootfs and volumes into the shared directory and rewrites their paths', async () => {
    const p = await prepareContainer({
      id: 'c1',
      spec: spec([{ destination: '/data', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'ro'] }, { destination: '/proc', type: 'proc', source: 'proc' }]),
      rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') },
      sharedDir: join(dir, 'shared'),
    });
    assert.equal((p.spec.root as { path: string }).path, '/run/mayu/shared/c1/rootfs');
    assert.equal(p.spec.mounts?.[0]?.source, '/run/mayu/shared/c1/volumes/0');
    assert.equal(p.spec.mounts?.[1]?.source, 'proc');
    assert.deepEqual(p.spec.linux?.namespaces, [{ type: 'pid' }, { type: 'network' }]);
    assert.equal(readFileSync(join(dir, 'shared/c1/volumes/0/data'), 'utf8'), 'volume\n');
    assert.throws(() => writeFileSync(join(dir, 'shared/c1/volumes/0/new'), 'x'), { code: 'EROFS' });
    assert.deepEqual(mountsUnder(dir).length, 2);
    await releaseContainerMounts(p.hostMounts);
    assert.deepEqual(mountsUnder(dir), []);
  });

  it('uses the disk for a block rootfs: a read-only erofs under a guest overlay', async () => {
    const p = await prepareContainer({ id: 'c2', spec: spec(), rootfs: { kind: 'disk', serial: 'mayu-rootfs' }, sharedDir: null });
    assert.deepEqual(p.storages.map((s) => [s.driver, s.source, s.mountPoint]), [
      ['blk', 'mayu-rootfs', '/run/mayu/containers/c2/lower'],
      ['overlay', 'overlay', '/run/mayu/containers/c2/rootfs'],
    ]);
    assert.equal((p.spec.root as { path: string }).path, '/run/mayu/containers/c2/rootfs');
  });

  it('names what is wrong and leaves no mount behind', async () => {
    await assert.rejects(
      prepareContainer({ id: 'c3', spec: spec([{ destination: '/x', type: 'bind', source: join(dir, 'missing') }]), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, sharedDir: join(dir, 'shared') }),
      { code: 'ERR_INVALID_ARGUMENT', message: /\/mounts\/0\/source: does not exist on the host/ },
    );
    assert.deepEqual(mountsUnder(dir), [], 'the rootfs bind was undone');
    await assert.rejects(prepareContainer({ id: 'c4', spec: [], rootfs: { kind: 'disk', serial: 's' }, sharedDir: null }), /an OCI spec must be a JSON object/);
    await assert.rejects(
      prepareContainer({ id: 'c5', spec: spec([{ destination: '/x', type: 'bind', source: join(dir, 'vol') }]), rootfs: { kind: 'disk', serial: 's' }, sharedDir: null }),
      /needs a shared filesystem/,
    );
  });

  it('removing a directory unmounts what is under it first, and never deletes through a mount', async () => {
    const p = await prepareContainer({ id: 'c6', spec: spec(), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, sharedDir: join(dir, 'shared') });
    assert.equal(p.hostMounts.length, 1);
    removeDirSafely(join(dir, 'shared'));
    assert.ok(existsSync(join(dir, 'rootfs/bin')), "the container's rootfs survived");
  });
});
