import { invalidArgument, MayuError } from '@mayu/protocol';
import type { VmSpec } from '../hypervisor.js';
import { kernelCmdline } from '../kernel-cmdline.js';
import type { ClhPaths } from './clh-paths.js';

/*
 * The part of Cloud Hypervisor's VmConfig (the body of PUT vm.create) that
 * mayu sends, in CH's own member names. Sizes are bytes. Members CH defaults
 * well are left out; members whose default is wrong for a daemon (console:
 * Tty) are always set.
 */

export interface PayloadConfig {
  /** PVH vmlinux (or bzImage on v39+). */
  kernel: string;
  cmdline: string;
  initramfs?: string;
}

export interface CpusConfig {
  boot_vcpus: number;
  max_vcpus: number;
}

export interface MemoryConfig {
  size: number;
  /** MAP_SHARED guest RAM: virtio-fs (a vhost-user device) needs it. */
  shared?: boolean;
}

export interface DiskConfig {
  path: string;
  readonly: boolean;
  /** Always "Raw": since v51 CH protects sector 0 of autodetected raw images; older CHs ignore the member. */
  image_type: 'Raw';
  id: string;
  /** virtio-blk serial (/sys/block/vdX/serial), v36+. */
  serial?: string;
}

export interface FsConfig {
  tag: string;
  socket: string;
  num_queues: number;
  queue_size: number;
  id: string;
}

export interface VsockConfig {
  cid: number;
  socket: string;
  id: string;
}

export type ConsoleMode = 'Off' | 'Null' | 'Tty' | 'Pty' | 'File' | 'Socket';

export interface ConsoleConfig {
  mode: ConsoleMode;
  /** With File; with Pty, CH writes the pty's path here (read it back from vm.info). */
  file?: string;
  /** With Socket (the serial port only). */
  socket?: string;
}

export interface VmConfig {
  payload: PayloadConfig;
  cpus: CpusConfig;
  memory: MemoryConfig;
  disks?: DiskConfig[];
  fs?: FsConfig[];
  vsock?: VsockConfig;
  serial: ConsoleConfig;
  console: ConsoleConfig;
  rng: { src: string };
}

/**
 * The guest CID. CH's vsock is implemented in user space (no
 * /dev/vhost-vsock), so every VM can use the same one, as Kata does.
 */
export const CLH_GUEST_CID = 3;
const MIB = 1024 * 1024;
/** The disk holding the guest's root filesystem: the first disk, /dev/vda. */
export const ROOTFS_DISK_ID = 'rootfs';

/** What the spec asks that CH cannot give: ERR_CONFIG_INVALID naming the configuration key. */
export function checkClhSpec(spec: VmSpec): void {
  if (spec.agentChannel !== 'vsock') {
    throw new MayuError('ERR_CONFIG_INVALID', `sandbox.agent_channel: Cloud Hypervisor reaches the agent over hybrid vsock only (got ${JSON.stringify(spec.agentChannel)})`, {
      details: { key: 'sandbox.agent_channel', value: spec.agentChannel },
    });
  }
  const shares = spec.sharedDirs ?? [];
  const ninep = shares.find((d) => d.kind !== 'virtio-fs');
  if (ninep) {
    throw new MayuError('ERR_CONFIG_INVALID', `sandbox.shared_fs: Cloud Hypervisor has no 9p; use "virtio-fs" (share ${ninep.id})`, {
      details: { key: 'sandbox.shared_fs', value: ninep.kind },
    });
  }
  if (shares.length > 1)
    throw invalidArgument(
      'sharedDirs',
      shares.map((d) => d.id),
      'Cloud Hypervisor is given one virtio-fs share (one virtiofsd)',
    );
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) throw invalidArgument('vcpus', spec.vcpus, 'must be an integer of at least 1');
  if (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 64) throw invalidArgument('memoryMib', spec.memoryMib, 'must be an integer of at least 64');
  const ids = new Set<string>([ROOTFS_DISK_ID]);
  for (const d of spec.disks ?? []) {
    // CH reserves ids starting with "__" for its own devices, and ids must be unique.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(d.id) || ids.has(d.id)) throw invalidArgument('disk id', d.id, 'must be unique, 1-64 letters, digits, "_", "." or "-", not starting with "_"');
    ids.add(d.id);
    if (!/^[A-Za-z0-9_.-]{1,20}$/.test(d.serial)) throw invalidArgument('disk serial', d.serial, 'must be 1-20 letters, digits, "_", "." or "-"');
  }
}

function disks(spec: VmSpec): DiskConfig[] {
  const list: DiskConfig[] = [];
  if (spec.rootfs.kind === 'image') list.push({ path: spec.rootfs.path, readonly: true, image_type: 'Raw', id: ROOTFS_DISK_ID });
  for (const d of spec.disks ?? []) list.push({ path: d.path, readonly: d.readOnly, image_type: 'Raw', id: d.id, serial: d.serial });
  return list;
}

/**
 * The VmConfig of a spec: PVH kernel with mayu's command line (the initrd as
 * initramfs for rootfs = "initrd"), the erofs root image as the first
 * virtio-blk disk (read-only), container disks after it with their serials,
 * the virtio-fs share on virtiofsd's socket (guest RAM then shared), hybrid
 * vsock for the agent, the serial port (kernel console) on a socket, and the
 * virtio console (hvc0, the agent's logs) on a pty.
 */
export function vmConfig(spec: VmSpec, paths: ClhPaths): VmConfig {
  checkClhSpec(spec);
  const cmdline = kernelCmdline({
    // CH's machine has PCI and ACPI, like q35 (no pci=off), and always KVM.
    machine: 'q35',
    accel: 'kvm',
    tscKhz: null,
    rootfs: spec.rootfs.kind === 'image' ? { kind: 'image', fsType: spec.rootfs.fsType } : { kind: 'initrd' },
    debug: spec.debug,
    extra: spec.kernelParams,
  });
  const fs: FsConfig[] = (spec.sharedDirs ?? []).map((d) => ({ tag: d.tag, socket: paths.virtiofsd, num_queues: 1, queue_size: 1024, id: `fs-${d.id}` }));
  const diskList = disks(spec);
  // TODO(network): virtio-net on the pod's tap. vm.create cannot carry tap
  // fds; it needs vm.add-net with SCM_RIGHTS (a native helper), a
  // launch-time --net fd=, or CH opening the tap by name (CAP_NET_ADMIN).
  return {
    payload: { kernel: spec.kernel, cmdline, ...(spec.rootfs.kind === 'initrd' ? { initramfs: spec.rootfs.path } : {}) },
    cpus: { boot_vcpus: spec.vcpus, max_vcpus: spec.vcpus },
    memory: { size: spec.memoryMib * MIB, ...(fs.length > 0 ? { shared: true } : {}) },
    ...(diskList.length > 0 ? { disks: diskList } : {}),
    ...(fs.length > 0 ? { fs } : {}),
    vsock: { cid: CLH_GUEST_CID, socket: paths.vsock, id: 'vsock' },
    serial: { mode: 'Socket', socket: paths.serial },
    console: { mode: 'Pty' },
    rng: { src: '/dev/urandom' },
  };
}
