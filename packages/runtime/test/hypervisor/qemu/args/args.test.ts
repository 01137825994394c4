import assert from 'node:assert/strict';
import { baseArgs } from '../../../../src/hypervisor/qemu/args/base.js';
import { blockDeviceArgs } from '../../../../src/hypervisor/qemu/args/block.js';
import { kernelArgs } from '../../../../src/hypervisor/qemu/args/boot.js';
import { qmpArgs, serialConsoleArgs, socketChardevArgs } from '../../../../src/hypervisor/qemu/args/chardev.js';
import { cpuArgs } from '../../../../src/hypervisor/qemu/args/cpu.js';
import { machineArgs } from '../../../../src/hypervisor/qemu/args/machine.js';
import { memoryArgs } from '../../../../src/hypervisor/qemu/args/memory.js';
import { optionValue, virtioDevice } from '../../../../src/hypervisor/qemu/args/option-value.js';
import { rngArgs } from '../../../../src/hypervisor/qemu/args/rng.js';
import { sandboxArgs } from '../../../../src/hypervisor/qemu/args/sandbox.js';
import { virtioSerialArgs } from '../../../../src/hypervisor/qemu/args/virtio-serial.js';
import { vsockArgs } from '../../../../src/hypervisor/qemu/args/vsock.js';

describe('QEMU argv pieces', () => {
  it('escapes commas in option values and refuses control characters', () => {
    assert.equal(optionValue('path', '/a,b/c'), '/a,,b/c');
    assert.throws(() => optionValue('path', 'a\nb'), { code: 'ERR_INVALID_ARGUMENT', message: /path: must not contain control characters/ });
  });

  it('names virtio devices by transport', () => {
    assert.equal(virtioDevice('virtio-blk', 'mmio'), 'virtio-blk-device');
    assert.equal(virtioDevice('virtio-blk', 'pci'), 'virtio-blk-pci');
  });

  it('base: no defaults, no reboot, vCPUs stopped until cont', () => {
    assert.deepEqual(baseArgs({ name: 'mayu-x', pidFile: '/s/qemu.pid' }), ['-name', 'mayu-x', '-nodefaults', '-no-user-config', '-nographic', '-no-reboot', '-S', '-pidfile', '/s/qemu.pid']);
  });

  it('machine: microvm without legacy devices, or q35', () => {
    assert.deepEqual(machineArgs({ type: 'microvm', accel: 'tcg' }), ['-M', 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,acpi=on', '-accel', 'tcg']);
    assert.deepEqual(machineArgs({ type: 'q35', accel: 'kvm' }), ['-M', 'q35,acpi=on', '-accel', 'kvm']);
  });

  it('cpu: host under KVM, max under TCG; vCPUs bounded', () => {
    assert.deepEqual(cpuArgs({ accel: 'kvm', vcpus: 2 }), ['-cpu', 'host', '-smp', '2']);
    assert.deepEqual(cpuArgs({ accel: 'tcg', vcpus: 1 }), ['-cpu', 'max', '-smp', '1']);
    assert.throws(() => cpuArgs({ accel: 'tcg', vcpus: 0 }), /vcpus: must be an integer from 1 to 255 \(got 0\)/);
    assert.deepEqual(cpuArgs({ accel: 'tcg', vcpus: 1, maxVcpus: 8 }), ['-cpu', 'max', '-smp', '8'], 'every vCPU it may grow to exists');
    assert.throws(() => cpuArgs({ accel: 'tcg', vcpus: 2, maxVcpus: 1 }), /maxVcpus: must be an integer from vcpus \(2\) to 255 \(got 1\)/);
  });

  it('memory: plain or shared through a memfd', () => {
    assert.deepEqual(memoryArgs({ mib: 512 }), ['-m', '512M']);
    assert.deepEqual(memoryArgs({ mib: 256, shared: true }), ['-m', '256M', '-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-machine', 'memory-backend=mem']);
    assert.throws(() => memoryArgs({ mib: 1.5 }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('memory to grow into: a virtio-mem device over reserved address space, nothing plugged at boot', () => {
    assert.deepEqual(memoryArgs({ mib: 512, maxMib: 8192 }), [
      '-m',
      '512M,maxmem=8192M',
      '-object',
      'memory-backend-ram,id=hotmem,size=7680M,reserve=off',
      '-device',
      'virtio-mem-pci,id=hotmem0,memdev=hotmem,requested-size=0',
    ]);
    assert.deepEqual(memoryArgs({ mib: 512, maxMib: 1024, shared: true }).slice(-3, -2), ['memory-backend-memfd,id=hotmem,size=512M,reserve=off,share=on'], 'shared as the boot memory is (virtio-fs)');
    assert.deepEqual(memoryArgs({ mib: 512, maxMib: 512 }), ['-m', '512M'], 'no room, no device');
    assert.throws(() => memoryArgs({ mib: 512, maxMib: 256 }), /maxMemoryMib: must be an integer of at least memoryMib \(512\)/);
  });

  it('kernel: vmlinux, optional initrd, one-line cmdline', () => {
    assert.deepEqual(kernelArgs({ kernel: '/k', cmdline: 'a b' }), ['-kernel', '/k', '-append', 'a b']);
    assert.deepEqual(kernelArgs({ kernel: '/k', initrd: '/i', cmdline: '' }), ['-kernel', '/k', '-initrd', '/i', '-append', '']);
    assert.throws(() => kernelArgs({ kernel: '/k', cmdline: 'a\nb' }), /cmdline: must be one line/);
  });

  it('chardevs, QMP and the serial console', () => {
    assert.deepEqual(socketChardevArgs({ id: 'c', path: '/s/c.sock' }), ['-chardev', 'socket,id=c,path=/s/c.sock,server=on,wait=off']);
    assert.deepEqual(qmpArgs('/s/qmp.sock'), ['-qmp', 'unix:/s/qmp.sock,server=on,wait=off']);
    assert.deepEqual(serialConsoleArgs('c'), ['-serial', 'chardev:c']);
  });

  it('virtio-serial: controller, then consoles and ports in order', () => {
    assert.deepEqual(
      virtioSerialArgs('mmio', [
        { kind: 'console', name: 'agent.log.0', chardev: 'log' },
        { kind: 'port', name: 'agent.channel.0', chardev: 'agent' },
      ]),
      ['-device', 'virtio-serial-device,id=vser0', '-device', 'virtconsole,chardev=log,name=agent.log.0', '-device', 'virtserialport,chardev=agent,name=agent.channel.0'],
    );
  });

  it('block: a raw file node, read-only when asked', () => {
    assert.deepEqual(blockDeviceArgs({ id: 'rootfs', path: '/img', readOnly: true, transport: 'pci' }), [
      '-blockdev',
      'driver=file,node-name=rootfs-file,filename=/img,read-only=on',
      '-blockdev',
      'driver=raw,node-name=rootfs,file=rootfs-file,read-only=on',
      '-device',
      'virtio-blk-pci,drive=rootfs,id=rootfs-dev',
    ]);
  });

  it('vsock: a valid guest CID', () => {
    assert.deepEqual(vsockArgs({ cid: 3, transport: 'mmio' }), ['-device', 'vhost-vsock-device,guest-cid=3']);
    assert.throws(() => vsockArgs({ cid: 2, transport: 'mmio' }), /vsock cid: must be an integer from 3/);
  });

  it('rng and the seccomp sandbox', () => {
    assert.deepEqual(rngArgs('mmio'), ['-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-device,rng=rng0']);
    assert.deepEqual(sandboxArgs(true), ['-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
    assert.deepEqual(sandboxArgs(false), []);
  });
});
