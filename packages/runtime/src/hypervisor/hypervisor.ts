/** What a sandbox asks of its VM. */
export interface VmSpec {
  /** Sandbox id (names the VM and its state directory). */
  id: string;
  /** The sandbox's state directory: the hypervisor's sockets and logs go here. */
  stateDir: string;
  vcpus: number;
  memoryMib: number;
  kernel: string;
  rootfs: { kind: 'image'; path: string; fsType: string } | { kind: 'initrd'; path: string };
  /** How the host reaches the agent. */
  agentChannel: 'serial' | 'vsock';
  /** Extra kernel parameters (after mayu's own). */
  kernelParams: string;
  /** Verbose guest console and agent debug logs. */
  debug: boolean;
  /** Host directories shared with the guest, each under its tag. */
  sharedDirs?: SharedDirSpec[];
  /** Extra disks (container root filesystems), attached at boot. */
  disks?: DiskSpec[];
  /** Who the hypervisor process runs as, and what it may do (see VmmPrivileges). */
  privileges: VmmPrivileges;
}

export interface SharedDirSpec {
  /** A short name for the device (e.g. the share area). */
  id: string;
  path: string;
  tag: string;
  kind: 'virtio-9p' | 'virtio-fs';
  /**
   * `host`: the guest sees and sets the host files' real owners and modes
   * (within the hypervisor's capabilities); `mapped`: what the guest sets is
   * kept in extended attributes and never becomes real on the host.
   */
  attributes: 'host' | 'mapped';
}

/**
 * The hypervisor process's privileges. It starts with a bounding capability
 * set of only what it needs, no_new_privs, and (unless `dieWithParent` is
 * false) a parent-death SIGKILL, so that a VM never outlives the process
 * that owns it.
 */
export interface VmmPrivileges {
  /** Drop to this uid:gid once the devices are open (only when the VMM serves no files). */
  runAs: { uid: number; gid: number } | null;
  dieWithParent: boolean;
}

export interface DiskSpec {
  id: string;
  path: string;
  readOnly: boolean;
  /** What the guest finds the disk by (/sys/block/vdX/serial). */
  serial: string;
}

export interface VmStarted {
  pid: number;
  /** performance.now() when the hypervisor process was spawned. */
  spawnedAt: number;
  /** performance.now() when the vCPUs were started. */
  runningAt: number;
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HypervisorCapabilities {
  /** Devices can be added and removed while the VM runs. */
  hotplug: boolean;
  pause: boolean;
  sharedFs: readonly ('virtio-9p' | 'virtio-fs')[];
}

/**
 * A hypervisor driver. One instance drives one VM: prepare() checks the spec
 * and plans the VM without side effects, start() boots it, stop() asks the
 * guest to power off (then forces), destroy() kills it, cleanup() removes
 * every file the driver created. stop/destroy/cleanup are idempotent.
 */
export interface Hypervisor {
  readonly kind: string;
  readonly capabilities: HypervisorCapabilities;
  prepare(spec: VmSpec): void;
  start(): Promise<VmStarted>;
  /** The agent's address as a dialer URL (serial://, vsock://, hvsock://). */
  agentEndpoint(): string;
  /** Resolves when the hypervisor process has exited. */
  wait(): Promise<VmExit>;
  stop(timeoutMs: number): Promise<void>;
  destroy(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Lets go of the VM (monitor, console and log connections) and leaves it running. */
  disconnect(): void;
  cleanup(): Promise<void>;
}
