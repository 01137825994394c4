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
  vcpus: number;
  memoryMib: number;
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
  /** Lets go of the VM (monitor, console and log connections) and leaves it running. */
  disconnect(): void;
  cleanup(): Promise<void>;
}
