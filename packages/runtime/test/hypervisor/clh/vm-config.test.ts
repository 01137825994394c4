import assert from 'node:assert/strict';
import type { VmSpec } from '../../../src/hypervisor/hypervisor.js';
import { clhPaths } from '../../../src/hypervisor/clh/clh-paths.js';
import { vmConfig } from '../../../src/hypervisor/clh/vm-config.js';
import { schemaErrors } from './fake-clh/schema.js';

const STATE = '/run/mayu/sandboxes/sb1';
const paths = clhPaths(STATE);
const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
  id: 'sb1',
  stateDir: STATE,
  vcpus: 2,
  memoryMib: 512,
  kernel: '/img/vmlinux',
  rootfs: { kind: 'image', path: '/img/rootfs.erofs', fsType: 'erofs' },
  agentChannel: 'vsock',
  kernelParams: '',
  debug: false,
  dieWithParent: true,
  ...over,
});

describe('Cloud Hypervisor VmConfig from a VmSpec', () => {
  it('PVH kernel, erofs root image as the first disk (read-only, Raw), hybrid vsock, serial socket, console pty', () => {
    assert.deepEqual(vmConfig(spec(), paths), {
      payload: { kernel: '/img/vmlinux', cmdline: 'console=ttyS0 panic=-1 reboot=t quiet root=/dev/vda ro rootfstype=erofs' },
      cpus: { boot_vcpus: 2, max_vcpus: 2 },
      memory: { size: 512 * 1024 * 1024 },
      disks: [{ path: '/img/rootfs.erofs', readonly: true, image_type: 'Raw', id: 'rootfs' }],
      vsock: { cid: 3, socket: `${STATE}/clh/vsock.sock`, id: 'vsock' },
      serial: { mode: 'Socket', socket: `${STATE}/clh/serial.sock` },
      console: { mode: 'Pty' },
      rng: { src: '/dev/urandom' },
    });
  });

  it('an initrd root is the initramfs, and there is no disk', () => {
    const c = vmConfig(spec({ rootfs: { kind: 'initrd', path: '/img/initrd.img' }, debug: true, kernelParams: 'foo=1' }), paths);
    assert.equal(c.payload.initramfs, '/img/initrd.img');
    assert.equal(c.payload.cmdline, 'console=ttyS0 panic=-1 reboot=t loglevel=7 agent.log=debug foo=1');
    assert.equal(c.disks, undefined);
  });

  it('container disks follow the root image, with their serials; a virtio-fs share is on virtiofsd with shared memory', () => {
    const c = vmConfig(
      spec({
        disks: [{ id: 'ctr-rootfs-0', path: `${STATE}/rootfs-0.erofs`, readOnly: true, serial: 'mayu-rootfs' }],
        sharedDirs: [{ id: 'shared', path: `${STATE}/export/shared`, tag: 'mayushared', kind: 'virtio-fs', attributes: 'host' }],
      }),
      paths,
    );
    assert.deepEqual(
      c.disks?.map((d) => [d.id, d.readonly, d.serial]),
      [
        ['rootfs', true, undefined],
        ['ctr-rootfs-0', true, 'mayu-rootfs'],
      ],
    );
    assert.deepEqual(c.fs, [{ tag: 'mayushared', socket: `${STATE}/virtiofsd.sock`, num_queues: 1, queue_size: 1024, id: 'fs-shared' }]);
    assert.equal(c.memory.shared, true);
  });

  it('every VmConfig it builds passes the strict schema (unknown members rejected)', () => {
    const specs = [
      spec(),
      spec({ rootfs: { kind: 'initrd', path: '/i' } }),
      spec({
        disks: [{ id: 'd1', path: '/d1', readOnly: false, serial: 's1' }],
        sharedDirs: [{ id: 'shared', path: '/s', tag: 't', kind: 'virtio-fs', attributes: 'host' }],
      }),
    ];
    for (const s of specs) assert.deepEqual(schemaErrors('VmConfig', vmConfig(s, paths)), []);
    assert.deepEqual(schemaErrors('VmConfig', { ...vmConfig(spec(), paths), kernel: { path: '/k' } }), ['/: unknown member "kernel"']);
    assert.deepEqual(schemaErrors('VmConfig', { ...vmConfig(spec(), paths), console: { mode: 'Pipe' } }), ['/console/mode: must be equal to one of the allowed values']);
  });

  it('refuses what CH cannot do, naming the configuration key', () => {
    assert.throws(() => vmConfig(spec({ agentChannel: 'serial' }), paths), { code: 'ERR_CONFIG_INVALID', message: /^sandbox\.agent_channel: .*hybrid vsock only/ });
    assert.throws(() => vmConfig(spec({ sharedDirs: [{ id: 'shared', path: '/s', tag: 't', kind: 'virtio-9p', attributes: 'host' }] }), paths), {
      code: 'ERR_CONFIG_INVALID',
      message: /^sandbox\.shared_fs: Cloud Hypervisor has no 9p/,
    });
    const share = { path: '/s', tag: 't', kind: 'virtio-fs', attributes: 'host' } as const;
    assert.throws(
      () =>
        vmConfig(
          spec({
            sharedDirs: [
              { id: 'a', ...share },
              { id: 'b', ...share },
            ],
          }),
          paths,
        ),
      { code: 'ERR_INVALID_ARGUMENT' },
    );
    for (const id of ['__disk', 'rootfs', '']) {
      assert.throws(() => vmConfig(spec({ disks: [{ id, path: '/d', readOnly: true, serial: 's' }] }), paths), { code: 'ERR_INVALID_ARGUMENT', message: /disk id/ }, id);
    }
    assert.throws(() => vmConfig(spec({ disks: [{ id: 'd', path: '/d', readOnly: true, serial: 'x'.repeat(21) }] }), paths), { message: /disk serial/ });
    assert.throws(() => vmConfig(spec({ memoryMib: 32 }), paths), { message: /memoryMib/ });
  });
});
