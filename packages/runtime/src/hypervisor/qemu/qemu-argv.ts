import { AGENT_LOG_PORT_NAME, AGENT_SERIAL_PORT_NAME } from '@mayu/protocol';
import type { QemuConfig } from '../../config/runtime-config.js';
import type { VmSpec } from '../hypervisor.js';
import { kernelCmdline } from '../kernel-cmdline.js';
import { baseArgs } from './args/base.js';
import { blockDeviceArgs } from './args/block.js';
import { kernelArgs } from './args/boot.js';
import { qmpArgs, serialConsoleArgs, socketChardevArgs } from './args/chardev.js';
import { cpuArgs } from './args/cpu.js';
import { machineArgs, vmGenIdArgs, type Accel, type MachineType } from './args/machine.js';
import { memoryArgs } from './args/memory.js';
import type { DeviceTransport } from './args/option-value.js';
import { nicArgs } from './args/net.js';
import { rngArgs } from './args/rng.js';
import { runAsArgs, sandboxArgs } from './args/sandbox.js';
import { ninePArgs, virtioFsArgs } from './args/shared-fs.js';
import { virtioSerialArgs, type SerialPortSpec } from './args/virtio-serial.js';
import { vsockArgs } from './args/vsock.js';
import type { QemuPaths } from './qemu-paths.js';

export interface QemuArgvInput {
  spec: VmSpec;
  config: QemuConfig;
  accel: Accel;
  tscKhz: number | null;
  paths: QemuPaths;
  /** Guest CID when the agent channel is vsock. */
  vsockCid?: number;
  /** The uid:gid QEMU drops to once its devices are open (-runas), or null. */
  runAs?: { uid: number; gid: number } | null;
}

function sharedDirArgs(spec: VmSpec, paths: QemuPaths, transport: DeviceTransport): string[] {
  return (spec.sharedDirs ?? []).flatMap((shared) =>
    shared.kind === 'virtio-9p'
      ? ninePArgs({ id: `fs-${shared.id}`, path: shared.path, tag: shared.tag, attributes: shared.attributes, transport })
      : virtioFsArgs({ id: `fs-${shared.id}`, socket: paths.virtiofsd, tag: shared.tag, transport }),
  );
}

/**
 * The machine a VM runs on: the configured one, or for "auto" q35 when it
 * may have to grow its memory (QEMU 7.2's microvm gives a virtio-mem device
 * no region: the guest's driver fails to probe it) and microvm otherwise.
 */
export function machineFor(configured: QemuConfig['machineType'], spec: VmSpec): MachineType {
  if (configured !== 'auto') return configured;
  return (spec.maxMemoryMib ?? spec.memoryMib) > spec.memoryMib ? 'q35' : 'microvm';
}

/** The whole QEMU command line (without the binary), from small typed pieces. */
export function qemuArgv(input: QemuArgvInput): string[] {
  const { spec, config, accel, paths } = input;
  const machine = machineFor(config.machineType, spec);
  // microvm has no region for a virtio-mem device: its VMs never grow memory (the driver's capabilities say so).
  const maxMemoryMib = machine === 'microvm' ? undefined : spec.maxMemoryMib;
  const transport: DeviceTransport = machine === 'microvm' ? 'mmio' : 'pci';
  const growsCpus = (spec.maxVcpus ?? spec.vcpus) > spec.vcpus;
  const cmdline = kernelCmdline({
    machine,
    bootCpus: growsCpus ? spec.vcpus : undefined,
    accel,
    tscKhz: input.tscKhz,
    rootfs: spec.rootfs.kind === 'image' ? { kind: 'image', fsType: spec.rootfs.fsType } : { kind: 'initrd' },
    debug: spec.debug,
    extra: spec.kernelParams,
  });
  const ports: SerialPortSpec[] = [{ kind: 'console', name: AGENT_LOG_PORT_NAME, chardev: 'log' }];
  if (spec.agentChannel === 'serial') ports.push({ kind: 'port', name: AGENT_SERIAL_PORT_NAME, chardev: 'agent' });

  return [
    ...baseArgs({ name: `mayu-${spec.id}`, pidFile: paths.pid }),
    ...machineArgs({ type: machine, accel, tbSizeMib: config.tcgTbSizeMib }),
    ...cpuArgs({ accel, vcpus: spec.vcpus, maxVcpus: spec.maxVcpus }),
    ...memoryArgs({ mib: spec.memoryMib, maxMib: maxMemoryMib, shared: (spec.sharedDirs ?? []).some((d) => d.kind === 'virtio-fs'), file: spec.memoryFile }),
    ...kernelArgs({ kernel: spec.kernel, initrd: spec.rootfs.kind === 'initrd' ? spec.rootfs.path : undefined, cmdline }),
    ...qmpArgs(paths.qmp),
    ...socketChardevArgs({ id: 'console', path: paths.console }),
    ...serialConsoleArgs('console'),
    ...socketChardevArgs({ id: 'log', path: paths.log }),
    ...(spec.agentChannel === 'serial' ? socketChardevArgs({ id: 'agent', path: paths.agent }) : []),
    ...virtioSerialArgs(transport, ports),
    ...(spec.rootfs.kind === 'image' ? blockDeviceArgs({ id: 'rootfs', path: spec.rootfs.path, readOnly: true, transport }) : []),
    ...(spec.disks ?? []).flatMap((d) => blockDeviceArgs({ id: d.id, path: d.path, readOnly: d.readOnly, transport, serial: d.serial })),
    ...sharedDirArgs(spec, paths, transport),
    ...(spec.nics ?? []).flatMap((nic, n) => nicArgs(nic, n, transport, accel === 'kvm')),
    ...(spec.agentChannel === 'vsock' ? vsockArgs({ cid: input.vsockCid ?? 0, transport }) : []),
    ...rngArgs(transport),
    ...vmGenIdArgs(machine),
    ...sandboxArgs(config.sandbox, (input.runAs ?? null) !== null),
    ...runAsArgs(input.runAs ?? null),
    // A clone: devices are made, then the state comes through QMP migrate-incoming.
    ...(spec.incoming ? ['-incoming', 'defer'] : []),
  ];
}
