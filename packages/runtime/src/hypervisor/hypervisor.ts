import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime-config.js';
import type { AccelDecision } from '../host/accel.js';

/** What a sandbox asks of its VM. */
export interface VmSpec {
  /** Sandbox id (names the VM and its state directory). */
  id: string;
  /** The sandbox's state directory: the hypervisor's sockets and logs go here. */
  stateDir: string;
  /** vCPUs and memory at boot. */
  vcpus: number;
  memoryMib: number;
  /**
   * What the VM may grow to while it runs (resizeMemory, and vCPUs the agent
   * onlines): absent or equal to vcpus / memoryMib, it cannot grow.
   */
  maxVcpus?: number;
  maxMemoryMib?: number;
  kernel: string;
  rootfs: { kind: 'image'; path: string; fsType: string } | { kind: 'initrd'; path: string };
  /** How the host reaches the agent. */
  agentChannel: AgentChannel;
  /** Extra kernel parameters (after mayu's own). */
  kernelParams: string;
  /** Verbose guest console and agent debug logs. */
  debug: boolean;
  /** Host directories shared with the guest, each under its tag. */
  sharedDirs?: SharedDirSpec[];
  /** Extra disks (container root filesystems), attached at boot. */
  disks?: DiskSpec[];
  /**
   * The pod's network namespace: the hypervisor runs in it, and each NIC is
   * a tap there (wired to the pod's veth). Absent: no network (lo only).
   */
  netns?: string;
  nics?: NicSpec[];
  /**
   * Kill the VM when the process that owns it dies (parent-death signal).
   * False only for a VM meant to outlive its creator (mayu boot --keep).
   */
  dieWithParent: boolean;
  /**
   * Guest RAM in a file (VM templates): `shared` for a template being built
   * (the file is its RAM, saved as it is), private copy-on-write for a clone
   * (it starts from the template's pages and writes its own).
   */
  memoryFile?: { path: string; shared: boolean };
  /** Start from a saved device state (a template's, see Hypervisor.saveState) instead of booting. */
  incoming?: { stateFile: string };
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

/** A guest NIC on a tap of the pod's network namespace. */
export interface NicSpec {
  tap: string;
  /** The guest NIC's MAC: the pod veth's, so that neighbours and CNI's view stay true. */
  mac: string;
  mtu: number;
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
  /** The VM was restored from a saved state (VmSpec.incoming), not booted. */
  restored?: boolean;
  /** performance.now() when the hypervisor process was spawned. */
  spawnedAt: number;
  /** performance.now() when the vCPUs were started. */
  runningAt: number;
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How the host reaches the agent: a virtio-serial port, or vsock (AF_VSOCK, or a hybrid-vsock socket). */
export type AgentChannel = 'serial' | 'vsock';

/**
 * What a backend can do, so that a sandbox asks for capabilities instead of
 * checking which backend it has. Lists are in the backend's order of
 * preference (the first is what "auto" picks).
 */
export interface HypervisorCapabilities {
  /** Devices can be added and removed while the VM runs. */
  hotplug: boolean;
  /** The VM can grow after boot: vCPUs up to VmSpec.maxVcpus (the agent onlines them), memory up to maxMemoryMib (resizeMemory). */
  grow: { vcpus: boolean; memory: boolean };
  pause: boolean;
  /** The VM can be saved and restored (VM templates). */
  snapshot: boolean;
  sharedFs: readonly ('virtio-9p' | 'virtio-fs')[];
  /** Its 9p server can keep guest-set attributes aside (mapped-xattr). */
  mappedAttributes: boolean;
  /** The agent channels this backend offers on this host. */
  agentChannels: readonly AgentChannel[];
  /** It can give the guest NICs on taps in a network namespace (VmSpec.netns, nics). */
  tapNetworking: boolean;
}

/** What a hypervisor driver is made from. */
export interface HypervisorContext {
  config: RuntimeConfig;
  log: Logger;
  /** Hands the agent's log stream (its log console) to the guest log relay. */
  onGuestLog: (stream: Readable) => void;
}

/** Makes the driver of one VM. */
export type HypervisorFactory = (ctx: HypervisorContext) => Hypervisor;

/**
 * A hypervisor driver. One instance drives one VM: prepare() checks the spec
 * and plans the VM without side effects, start() boots it, stop() asks the
 * guest to power off (then forces), destroy() kills it, cleanup() removes
 * every file the driver created. stop/destroy/cleanup are idempotent.
 */
export interface Hypervisor {
  readonly kind: string;
  readonly capabilities: HypervisorCapabilities;
  /** How the VM's CPUs run (hardware virtualization or emulation), and why. */
  readonly accel: AccelDecision;
  /** The hypervisor process, once started. */
  readonly pid: number | null;
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
  /**
   * Gives the guest `mib` MiB of memory in all (at most VmSpec.maxMemoryMib;
   * backends with capabilities.grow) and resolves once the guest has taken
   * it, or fails when it has not within `timeoutMs`.
   */
  resizeMemory?(mib: number, timeoutMs: number): Promise<void>;
  /** Lets go of the VM (monitor, console and log connections) and leaves it running. */
  disconnect(): void;
  /**
   * Pauses the VM and writes its device state to `stateFile`; its RAM is the
   * memory file (VmSpec.memoryFile, shared) and is not copied. Backends with
   * capabilities.snapshot only.
   */
  saveState?(stateFile: string): Promise<void>;
  /**
   * What a VM of `spec` must share with a template to be restored from it:
   * the device set and every other input that shapes the saved state, with
   * per-VM names and paths left out (backends with capabilities.snapshot).
   * Two specs with the same identity can use one template.
   */
  templateIdentity?(spec: VmSpec): string;
  cleanup(): Promise<void>;
}
