import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load-config.js';
import type { VmSpec } from '../../../src/hypervisor/hypervisor.js';
import { kernelCmdline } from '../../../src/hypervisor/kernel-cmdline.js';
import { qemuArgv } from '../../../src/hypervisor/qemu/qemu-argv.js';
import { qemuLaunch } from '../../../src/hypervisor/qemu/qemu-launch.js';
import { qemuPaths } from '../../../src/hypervisor/qemu/qemu-paths.js';

const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
  id: 'sb1',
  stateDir: '/run/mayu/sandboxes/sb1',
  vcpus: 1,
  memoryMib: 512,
  kernel: '/img/vmlinux',
  rootfs: { kind: 'image', path: '/img/rootfs.erofs', fsType: 'erofs' },
  agentChannel: 'serial',
  kernelParams: '',
  debug: false,
  dieWithParent: true,
  ...over,
});

/** The value after each occurrence of `flag`. */
const values = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ''] : []));

describe('QEMU command line', () => {
  const config = loadConfig().hypervisor.qemu;
  const paths = qemuPaths('/run/mayu/sandboxes/sb1');

  it('microvm, TCG, erofs root, agent on virtio-serial', () => {
    const argv = qemuArgv({ spec: spec(), config, accel: 'tcg', tscKhz: 2445434, paths });
    assert.equal(values(argv, '-append')[0], 'console=ttyS0 panic=-1 reboot=t quiet root=/dev/vda ro rootfstype=erofs pci=off tsc_early_khz=2445434 tsc=reliable');
    assert.deepEqual(values(argv, '-device'), [
      'virtio-serial-device,id=vser0',
      'virtconsole,chardev=log,name=agent.log.0',
      'virtserialport,chardev=agent,name=agent.channel.0',
      'virtio-blk-device,drive=rootfs,id=rootfs-dev',
      'virtio-rng-device,rng=rng0',
    ]); // no vmgenid: microvm's ACPI has none
    assert.deepEqual(
      values(argv, '-chardev').map((c) => c.split(',')[1]),
      ['id=console', 'id=log', 'id=agent'],
    );
    assert.ok(argv.includes('-S') && argv.includes('-sandbox'));
    assert.ok(!argv.includes('-initrd'));
    assert.deepEqual(values(argv, '-accel'), ['tcg,tb-size=128'], "TCG's translation buffer is capped (tcg_tb_size)");
    assert.deepEqual(values(qemuArgv({ spec: spec(), config: { ...config, tcgTbSizeMib: 0 }, accel: 'tcg', tscKhz: null, paths }), '-accel'), ['tcg'], "0: QEMU's default");
  });

  it('q35, KVM, initrd, agent on vsock', () => {
    const argv = qemuArgv({
      spec: spec({ rootfs: { kind: 'initrd', path: '/img/initrd.img' }, agentChannel: 'vsock' }),
      config: { ...config, machineType: 'q35' },
      accel: 'kvm',
      tscKhz: 2445434,
      paths,
      vsockCid: 77,
    });
    assert.equal(values(argv, '-initrd')[0], '/img/initrd.img');
    assert.equal(values(argv, '-append')[0], 'console=ttyS0 panic=-1 reboot=t quiet');
    assert.ok(values(argv, '-device').includes('vhost-vsock-pci,guest-cid=77'));
    assert.ok(values(argv, '-device').includes('vmgenid,guid=auto'), 'q35 has a VM generation id: a clone gets a new one');
    assert.deepEqual(values(argv, '-accel'), ['kvm'], 'no TCG buffer under KVM');
    assert.ok(!values(argv, '-device').some((d) => d.startsWith('virtserialport')));
    assert.ok(!values(argv, '-blockdev').length);
  });

  it('kernel command line: debug and extra parameters come last', () => {
    const line = kernelCmdline({ machine: 'microvm', accel: 'kvm', tscKhz: null, rootfs: { kind: 'initrd' }, debug: true, extra: ' agent.selftest=vsock  foo=1 ' });
    assert.equal(line, 'console=ttyS0 panic=-1 reboot=t loglevel=7 pci=off agent.log=debug agent.selftest=vsock foo=1');
  });

  it('a VM that can grow: every vCPU it may have (maxcpus= of them at boot); memory through a virtio-mem device, on q35 when the machine is "auto"', () => {
    const auto = { ...config, machineType: 'auto' as const };
    const argv = qemuArgv({ spec: spec({ vcpus: 2, memoryMib: 512, maxVcpus: 8, maxMemoryMib: 4096 }), config: auto, accel: 'tcg', tscKhz: null, paths: qemuPaths('/s') });
    assert.deepEqual(values(argv, '-smp'), ['8']);
    assert.deepEqual(values(argv, '-m'), ['512M,maxmem=4096M']);
    assert.deepEqual(values(argv, '-M'), ['q35,acpi=on']);
    assert.ok(values(argv, '-device').includes('virtio-mem-pci,id=hotmem0,memdev=hotmem,requested-size=0'));
    const cmdline = values(argv, '-append')[0] ?? '';
    assert.match(cmdline, / maxcpus=2( |$)/);
    assert.doesNotMatch(cmdline, /pci=off/, 'the kernel must probe the PCI bus');
    const cpusOnly = qemuArgv({ spec: spec({ vcpus: 2, memoryMib: 512, maxVcpus: 8 }), config: auto, accel: 'tcg', tscKhz: null, paths: qemuPaths('/s') });
    assert.ok(values(cpusOnly, '-M')[0]?.startsWith('microvm,'), 'vCPUs grow on microvm: the fast machine for what needs no more memory');
    assert.deepEqual(values(cpusOnly, '-smp'), ['8']);
    assert.ok(!cpusOnly.join(' ').includes('virtio-mem'));
    const fixed = qemuArgv({ spec: spec({ vcpus: 2, memoryMib: 512, maxVcpus: 2, maxMemoryMib: 512 }), config: auto, accel: 'tcg', tscKhz: null, paths: qemuPaths('/s') });
    assert.ok(!fixed.join(' ').includes('maxcpus') && !fixed.join(' ').includes('virtio-mem') && values(fixed, '-M')[0]?.startsWith('microvm,'), 'no room to grow: as before');
  });

  it("a NIC per pod interface on its tap, with the veth's MAC and MTU; QEMU enters the pod's network namespace before dropping privileges", () => {
    const argv = qemuArgv({ spec: spec({ netns: '/run/netns/pod', nics: [{ tap: 'tap0_mayu', mac: '0e:68:a1:fa:e2:cb', mtu: 1450 }] }), config, accel: 'tcg', tscKhz: null, paths });
    assert.deepEqual(values(argv, '-netdev'), ['tap,id=net0,ifname=tap0_mayu,script=no,downscript=no']);
    assert.ok(values(argv, '-device').includes('virtio-net-device,netdev=net0,mac=0e:68:a1:fa:e2:cb,host_mtu=1450'));
    assert.ok(
      qemuArgv({ spec: spec({ nics: [{ tap: 'tap0_mayu', mac: '0e:68:a1:fa:e2:cb', mtu: 1500 }] }), config: { ...config, machineType: 'q35' }, accel: 'kvm', tscKhz: null, paths }).includes(
        'tap,id=net0,ifname=tap0_mayu,script=no,downscript=no,vhost=on',
      ),
    );
    assert.throws(() => qemuArgv({ spec: spec({ nics: [{ tap: 'tap0,x=1', mac: '0e:68:a1:fa:e2:cb', mtu: 1500 }] }), config, accel: 'tcg', tscKhz: null, paths }), /tap: must be an interface name/);
    const launch = qemuLaunch({ binary: 'qemu-system-x86_64', argv: ['-S'], runAs: null, dieWithParent: true, servesFiles: true, netns: '/run/netns/pod' });
    assert.equal(launch.file, 'nsenter');
    assert.deepEqual(launch.args.slice(0, 3), ['--net=/run/netns/pod', '--', 'setpriv']);
    assert.ok(launch.args.includes('--pdeathsig=KILL') && launch.args.at(-1) === '-S');
  });
  it('VM templates: RAM in a file (shared for the template, private for a clone), and a clone waits for its state', () => {
    const template = qemuArgv({ spec: spec({ memoryFile: { path: '/t/memory', shared: true } }), config, accel: 'tcg', tscKhz: 1, paths });
    assert.deepEqual(
      values(template, '-object').filter((o) => o.startsWith('memory-backend')),
      ['memory-backend-file,id=mem,size=512M,mem-path=/t/memory,share=on'],
    );
    assert.ok(values(template, '-machine').includes('memory-backend=mem'));
    assert.ok(!template.includes('-incoming'));
    const clone = qemuArgv({ spec: spec({ memoryFile: { path: '/t/memory', shared: false }, incoming: { stateFile: '/t/state' } }), config, accel: 'tcg', tscKhz: 1, paths });
    assert.deepEqual(
      values(clone, '-object').filter((o) => o.startsWith('memory-backend')),
      ['memory-backend-file,id=mem,size=512M,mem-path=/t/memory,share=off'],
    );
    assert.deepEqual(values(clone, '-incoming'), ['defer']);
    assert.throws(() => qemuArgv({ spec: spec({ memoryFile: { path: '/t/a,b', shared: false } }), config, accel: 'tcg', tscKhz: 1, paths }), /memoryFile: must not contain a comma/);
    assert.throws(
      () =>
        qemuArgv({
          spec: spec({ memoryFile: { path: '/t/m', shared: false }, sharedDirs: [{ id: 'shared', path: '/s', tag: 't', kind: 'virtio-fs', attributes: 'host' }] }),
          config,
          accel: 'tcg',
          tscKhz: 1,
          paths,
        }),
      /cannot be used with a shared memfd \(virtio-fs\)/,
    );
  });
});
