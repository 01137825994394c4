import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareContainer, type ContainerShares } from '../../src/sandbox/container-setup.js';
import { mountsUnder, removeDirSafely, walkBeneath } from '../../src/storage/host-mounts.js';
import { SharedTree } from '../../src/storage/shared-tree.js';
import { WritableLayers } from '../../src/storage/writable-layers.js';

/** The options field of each mount under `dir`, by mount point. */
function mountOptions(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4]?.startsWith(`${dir}/`)) out.set(f[4], (f[5] ?? '').split(','));
  }
  return out;
}

/** What a guest (writing through the exported tree, as QEMU would for it) gets when it tries `fn`. */
function guestTry(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

// Host mounts need root, as a runtime does.
describe('container set-up on the host: the guest cannot steer host mounts', () => {
  let dir: string;
  let state: string;
  let shares: ContainerShares;
  /** Mounts under the state directory that belong to container `id` (a path component: the random directory name may contain the id's letters). */
  const mountsOf = (id: string): string[] => mountsUnder(state).filter((m) => m.slice(state.length).split('/').includes(id));
  beforeEach(async () => {
    dir = mkdtempSync('/run/mayu-unit-');
    state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
    writeFileSync(join(dir, 'rootfs/bin/sh'), 'image file\n');
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'vol/data'), 'volume\n');
    mkdirSync(join(dir, 'victim'));
    const tree = SharedTree.plan(state, ['shared', 'mapped']);
    await tree.setUp();
    shares = { tree, layers: new WritableLayers(join(state, 'scratch'), 16), writableVolumes: 'mapped' };
  });
  afterEach(() => removeDirSafely(dir));

  const spec = (mounts: unknown[] = [], root: Record<string, unknown> = {}) => ({
    ociVersion: '1.0.2',
    process: { args: ['sh'], cwd: '/' },
    root: { path: '/host/rootfs', ...root },
    mounts,
    linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/pod' }] },
  });
  const exported = (area: string, rel = ''): string => join(state, 'export', area, rel);

  it('binds rootfs and volumes in a host-only tree; the guest sees a read-only copy with nosuid,nodev mounts', async () => {
    const p = await prepareContainer({
      id: 'c1',
      spec: spec([
        { destination: '/ro', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'ro'] },
        { destination: '/rw', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'rw'] },
        { destination: '/proc', type: 'proc', source: 'proc' },
      ]),
      rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') },
      shares,
    });
    assert.equal((p.spec.root as { path: string }).path, '/run/mayu/shared/c1/rootfs');
    assert.equal(p.spec.mounts?.[0]?.source, '/run/mayu/shared/c1/volumes/0');
    assert.equal(p.spec.mounts?.[1]?.source, '/run/mayu/volumes/c1/volumes/1', 'a read-write volume goes to the mapped area');
    assert.equal(p.spec.mounts?.[2]?.source, 'proc');
    assert.deepEqual(p.spec.linux?.namespaces, [{ type: 'pid' }, { type: 'network' }]);
    assert.equal(readFileSync(exported('shared', 'c1/volumes/0/data'), 'utf8'), 'volume\n');
    // The guest writes inside writable mounts only.
    assert.equal(
      guestTry(() => writeFileSync(exported('shared', 'c1/rootfs/new'), 'x')),
      'ok',
    );
    assert.equal(
      guestTry(() => writeFileSync(exported('mapped', 'c1/volumes/1/new'), 'x')),
      'ok',
    );
    assert.equal(
      guestTry(() => writeFileSync(exported('shared', 'c1/volumes/0/new2'), 'x')),
      'EROFS',
      "a read-only volume is read-only in the guest's copy too",
    );
    for (const [target, options] of mountOptions(state)) {
      if (target.endsWith('/fs') || (target.includes('/export/') && !target.includes('/c1/'))) continue;
      assert.ok(options.includes('nosuid') && options.includes('nodev'), `${target} is nosuid,nodev (${options.join(',')})`);
    }
    await p.release();
    assert.deepEqual(mountsUnder(join(state, 'fs')), []);
    assert.deepEqual(readdirSync(join(state, 'fs/shared')), ['c1'], 'only the empty container directory is left');
  });

  it('a guest cannot create, rename or swap anything in the tree the host mounts into', async () => {
    const p = await prepareContainer({ id: 'c1', spec: spec(), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, shares });
    // Before the host mounts a volume for c2: plant a symlink where it will go, or swap c1's directory.
    assert.equal(
      guestTry(() => mkdirSync(exported('shared', 'c2'))),
      'EROFS',
    );
    assert.equal(
      guestTry(() => symlinkSync(join(dir, 'victim'), exported('shared', 'c2'))),
      'EROFS',
    );
    assert.equal(
      guestTry(() => symlinkSync('/', exported('mapped', 'c1'))),
      'EROFS',
    );
    assert.equal(
      guestTry(() => renameSync(exported('shared', 'c1'), exported('shared', 'c1-moved'))),
      'EROFS',
    );
    assert.match(
      guestTry(() => rmdirSync(exported('shared', 'c1/rootfs'))),
      /^(EROFS|EBUSY)$/,
    );
    // From inside its rootfs, the guest cannot reach the tree's directories either.
    assert.equal(
      guestTry(() => renameSync(exported('shared', 'c1/rootfs/bin'), exported('shared', 'c1/escaped'))),
      'EXDEV',
    );
    const p2 = await prepareContainer({
      id: 'c2',
      spec: spec([{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options: ['rw'] }]),
      rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') },
      shares,
    });
    assert.equal(readFileSync(exported('mapped', 'c2/volumes/0/data'), 'utf8'), 'volume\n');
    assert.deepEqual(readdirSync(join(dir, 'victim')), [], 'nothing was mounted onto the victim');
    await p2.release();
    await p.release();
    assert.ok(existsSync(join(dir, 'vol/data')) && existsSync(join(dir, 'rootfs/bin/sh')), 'unmounting never reached the sources');
    assert.deepEqual(mountsUnder(join(state, 'fs')), []);
  });

  it('never mounts onto a symlink put where a mount goes', async () => {
    // As if someone (a bug, another process) had planted a link in the host-only tree.
    mkdirSync(join(state, 'fs/mapped/c3/volumes'), { recursive: true });
    symlinkSync(join(dir, 'victim'), join(state, 'fs/mapped/c3/volumes/0'));
    await assert.rejects(
      prepareContainer({ id: 'c3', spec: spec([{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options: ['rw'] }]), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, shares }),
      /EEXIST|exists/,
    );
    assert.deepEqual(readdirSync(join(dir, 'victim')), []);
    assert.deepEqual(mountsOf('c3'), [], 'the rootfs bound before the failure was undone');
  });

  it('gives an image rootfs a writable layer of its own, bounded in size; the image is never written', async () => {
    const p = await prepareContainer({ id: 'c4', spec: spec(), rootfs: { kind: 'image', path: join(dir, 'rootfs') }, shares });
    writeFileSync(exported('shared', 'c4/rootfs/bin/sh'), 'changed by the container\n');
    writeFileSync(exported('shared', 'c4/rootfs/new'), 'new\n');
    assert.equal(readFileSync(join(dir, 'rootfs/bin/sh'), 'utf8'), 'image file\n', 'the image is unchanged');
    assert.ok(!existsSync(join(dir, 'rootfs/new')));
    // Filling the layer stops at its size (16 MiB here), not at the host's disk.
    const big = Buffer.alloc(1 << 20, 1);
    assert.equal(
      guestTry(() => {
        for (let i = 0; i < 32; i++) writeFileSync(exported('shared', `c4/rootfs/fill${i}`), big);
      }),
      'ENOSPC',
    );
    await p.release();
    assert.deepEqual(readdirSync(join(state, 'scratch')), [], 'the upper layer is gone');
    const ro = await prepareContainer({ id: 'c5', spec: spec([], { readonly: true }), rootfs: { kind: 'image', path: join(dir, 'rootfs') }, shares });
    assert.equal(
      guestTry(() => writeFileSync(exported('shared', 'c5/rootfs/x'), 'x')),
      'EROFS',
      'root.readonly is read-only on the host side too',
    );
    await ro.release();
  });

  it('a read-only rootfs still gets its mount points (made in a layer of its own, never in the image, never through an image symlink)', async () => {
    // The image's /etc is a symlink to a host path: resolving it must stay inside the rootfs.
    symlinkSync(join(dir, 'victim'), join(dir, 'rootfs/etc'));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const mounts = [
      { destination: '/etc/hosts', type: 'bind', source: join(dir, 'hosts'), options: ['rbind', 'ro'] },
      { destination: '/data/deep', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'rw'] },
      { destination: '/proc', type: 'proc', source: 'proc' },
    ];
    const p = await prepareContainer({ id: 'c11', spec: spec(mounts, { readonly: true }), rootfs: { kind: 'image', path: join(dir, 'rootfs') }, shares });
    const root = exported('shared', 'c11/rootfs');
    assert.ok(statSync(join(root, 'data/deep')).isDirectory() && statSync(join(root, 'proc')).isDirectory());
    assert.equal(statSync(join(root, 'data')).mode & 0o777, 0o755);
    assert.ok(statSync(join(root, join(dir, 'victim').slice(1), 'hosts')).isFile(), 'the file mount point is made where the symlink leads inside the rootfs');
    assert.deepEqual(readdirSync(join(dir, 'victim')), [], 'never in the host directory the symlink names');
    assert.deepEqual(readdirSync(join(dir, 'rootfs')).sort(), ['bin', 'etc'], 'nor in the image');
    assert.equal(
      guestTry(() => writeFileSync(join(root, 'x'), 'x')),
      'EROFS',
    );
    await p.release();
    assert.deepEqual(mountsOf('c11'), []);
    // containerd's rootfs is the container's own: its mount points are made in it, as an OCI runtime would.
    const own = join(dir, 'own-rootfs');
    mkdirSync(own);
    const q = await prepareContainer({ id: 'c12', spec: spec(mounts, { readonly: true }), rootfs: { kind: 'shared-fs', path: own }, shares });
    assert.ok(statSync(join(own, 'etc/hosts')).isFile() && statSync(join(own, 'data/deep')).isDirectory());
    assert.equal(
      guestTry(() => writeFileSync(exported('shared', 'c12/rootfs/x'), 'x')),
      'EROFS',
    );
    await q.release();
  });

  describe('mount propagation of volumes', () => {
    /** Makes `vol` a shared mount, as kubelet needs of a HostToContainer source. */
    const shareVolume = (): void => {
      execFileSync('mount', ['--bind', join(dir, 'vol'), join(dir, 'vol')]);
      execFileSync('mount', ['--make-shared', join(dir, 'vol')]);
    };
    /** The host mounts a tmpfs holding `file` under the volume's source, after the container started. */
    const hostMountsUnder = (name: string): void => {
      mkdirSync(join(dir, 'vol', name));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(dir, 'vol', name)]);
      writeFileSync(join(dir, 'vol', name, 'file'), `${name}\n`);
    };
    const volume = (options: string[]) => spec([{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options }]);
    const rootfs = (): { kind: 'shared-fs'; path: string } => ({ kind: 'shared-fs', path: join(dir, 'rootfs') });

    it('rslave: a mount the host makes under the source later appears in the guest copy (nosuid,nodev); nothing goes back', async () => {
      shareVolume();
      const p = await prepareContainer({ id: 's1', spec: volume(['rbind', 'rslave', 'rw']), rootfs: rootfs(), shares });
      hostMountsUnder('later');
      assert.equal(readFileSync(exported('mapped', 's1/volumes/0/later/file'), 'utf8'), 'later\n');
      // The guest's copy is a slave of the source: what the host-only tree mounts there never reaches the host.
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(state, 'fs/mapped/s1/volumes/0/later')]);
      assert.equal(readFileSync(join(dir, 'vol/later/file'), 'utf8'), 'later\n', 'the host does not see a mount made on the runtime side');
      execFileSync('umount', [join(state, 'fs/mapped/s1/volumes/0/later')]);
      await p.release();
      assert.deepEqual(mountsOf('s1'), [], 'the copy and the mounts it received are gone');
      assert.equal(readFileSync(join(dir, 'vol/later/file'), 'utf8'), 'later\n', 'the host keeps its mount');
    });

    it('rprivate (and no propagation option): a later host mount never appears; mounts there at start come with rbind, nosuid,nodev and read-only with the volume', async () => {
      shareVolume();
      hostMountsUnder('before');
      const p = await prepareContainer({ id: 's2', spec: volume(['rbind', 'rprivate', 'ro']), rootfs: rootfs(), shares });
      const q = await prepareContainer({ id: 's3', spec: volume(['rbind', 'ro']), rootfs: rootfs(), shares });
      hostMountsUnder('later');
      for (const id of ['s2', 's3']) {
        assert.equal(readFileSync(exported('shared', `${id}/volumes/0/before/file`), 'utf8'), 'before\n', `${id}: the mount made before start came with rbind`);
        assert.deepEqual(readdirSync(exported('shared', `${id}/volumes/0/later`)), [], `${id}: the later host mount does not reach the guest`);
        const options = mountOptions(state).get(exported('shared', `${id}/volumes/0/before`)) ?? [];
        assert.ok(
          ['ro', 'nosuid', 'nodev'].every((o) => options.includes(o)),
          `${id}: the submount is ro,nosuid,nodev in the guest copy (${options.join(',')})`,
        );
        assert.equal(
          guestTry(() => writeFileSync(exported('shared', `${id}/volumes/0/before/x`), 'x')),
          'EROFS',
        );
      }
      // bind (not rbind) takes only the source's own mount.
      const r = await prepareContainer({ id: 's4', spec: volume(['bind', 'ro']), rootfs: rootfs(), shares });
      assert.deepEqual(readdirSync(exported('shared', 's4/volumes/0/before')), []);
      for (const x of [p, q, r]) await x.release();
      assert.deepEqual(
        mountsUnder(state).filter((m) => /\/s[234]\//.test(m)),
        [],
      );
    });

    it('rshared (Kubernetes Bidirectional) is refused, naming the mount, and nothing is left mounted', async () => {
      await assert.rejects(
        prepareContainer({
          id: 's5',
          spec: spec([
            { destination: '/a', type: 'bind', source: join(dir, 'vol'), options: ['rbind'] },
            { destination: '/v', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'rshared'] },
          ]),
          rootfs: rootfs(),
          shares,
        }),
        {
          code: 'ERR_INVALID_ARGUMENT',
          message: /^\/mounts\/1\/options: bidirectional mount propagation cannot be honoured in a VM: a mount made in the guest cannot reach the host through 9p or virtio-fs .*\(got "rshared"\)$/,
        },
      );
      assert.deepEqual(mountsOf('s5'), []);
    });

    it('remounting the mounts under a volume never follows a symlink a guest swapped in', async () => {
      mkdirSync(join(dir, 'vol/a/b'), { recursive: true });
      symlinkSync(join(dir, 'victim'), join(dir, 'vol/link'));
      assert.throws(() => walkBeneath(join(dir, 'vol'), 'link'), /changed while it was being remounted/);
      assert.throws(() => walkBeneath(join(dir, 'vol'), 'link/x'), /changed while it was being remounted/);
      assert.throws(() => walkBeneath(join(dir, 'vol'), 'a/../link'), /refusing to walk/);
      const fd = walkBeneath(join(dir, 'vol'), 'a/b');
      assert.ok(fd.stats.isDirectory());
      fd.close();
    });
  });

  it('uses the disk for a block rootfs: a read-only erofs under a guest overlay', async () => {
    const p = await prepareContainer({ id: 'c6', spec: spec(), rootfs: { kind: 'disk', serial: 'mayu-rootfs' }, shares: null });
    assert.deepEqual(
      p.storages.map((s) => [s.driver, s.source, s.mountPoint]),
      [
        ['blk', 'mayu-rootfs', '/run/mayu/containers/c6/lower'],
        ['overlay', 'overlay', '/run/mayu/containers/c6/rootfs'],
      ],
    );
    assert.equal((p.spec.root as { path: string }).path, '/run/mayu/containers/c6/rootfs');
  });

  it('names what is wrong and leaves nothing behind', async () => {
    await assert.rejects(
      prepareContainer({ id: 'c7', spec: spec([{ destination: '/x', type: 'bind', source: join(dir, 'missing') }]), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, shares }),
      { code: 'ERR_INVALID_ARGUMENT', message: /\/mounts\/0\/source: does not exist on the host/ },
    );
    await assert.rejects(prepareContainer({ id: 'c8', spec: spec(), rootfs: { kind: 'shared-fs', path: join(dir, 'nope') }, shares }), { message: /\/root\/path: does not exist on the host/ });
    await assert.rejects(prepareContainer({ id: '../c9', spec: spec(), rootfs: { kind: 'shared-fs', path: join(dir, 'rootfs') }, shares }), { message: /container id: must be/ });
    assert.deepEqual(mountsUnder(join(state, 'fs')), [], 'the rootfs bind was undone');
    assert.ok(!existsSync(join(state, 'fs/shared/c7/rootfs')), 'and its mount point removed');
    await assert.rejects(prepareContainer({ id: 'c4', spec: [], rootfs: { kind: 'disk', serial: 's' }, shares: null }), /an OCI spec must be a JSON object/);
    await assert.rejects(
      prepareContainer({ id: 'c5', spec: spec([{ destination: '/x', type: 'bind', source: join(dir, 'vol') }]), rootfs: { kind: 'disk', serial: 's' }, shares: null }),
      /needs a shared filesystem/,
    );
  });

  it('after a crash, removing the state directory finds every mount first and never deletes through one', async () => {
    await prepareContainer({ id: 'c10', spec: spec([{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options: ['rw'] }]), rootfs: { kind: 'image', path: join(dir, 'rootfs') }, shares });
    assert.ok(mountsUnder(state).length >= 6);
    removeDirSafely(state);
    assert.ok(!existsSync(state));
    assert.ok(statSync(join(dir, 'vol/data')).isFile() && existsSync(join(dir, 'rootfs/bin/sh')), "the container's sources survived");
  });
});
