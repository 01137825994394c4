import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMayuError, MayuError, type GuestDetails, type NamespaceShare, type StdioSpec, type StorageSpec } from '@mayu/protocol';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AgentClient } from '../agent/agent-client.js';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { decideAccel, type AccelDecision } from '../host/accel.js';
import { hostTscKhz } from '../host/cpu-info.js';
import { locateGuestImage, type GuestImage } from '../host/guest-image.js';
import { hostHasVhostVsock } from '../host/vhost-vsock.js';
import type { DiskSpec, Hypervisor, VmSpec } from '../hypervisor/hypervisor.js';
import { removeDirSafely } from '../storage/host-mounts.js';
import { AREA_TAGS, GUEST_AREA_DIRS, SharedTree, type ShareArea } from '../storage/shared-tree.js';
import { WritableLayers } from '../storage/writable-layers.js';
import { vmmRunAs } from '../hypervisor/vmm-user.js';
import { prepareContainer, type ContainerRootfs, type ContainerShares } from './container-setup.js';
import { QemuHypervisor } from '../hypervisor/qemu/qemu-hypervisor.js';
import { StateMachine } from '../util/state-machine.js';
import { computeBootTimings, type BootTimings } from './boot-timings.js';
import { GuestLogRelay } from './guest-log-relay.js';
import { SANDBOX_TRANSITIONS, type SandboxState } from './sandbox-state.js';
import { createStateDir, writeRecord } from './state-dir.js';

export interface SandboxOptions {
  id: string;
  config: RuntimeConfig;
  log: Logger;
  /** vCPUs and memory; default: the configuration's. */
  vcpus?: number;
  memoryMib?: number;
  /** Kernel parameters added after the configuration's. */
  kernelParams?: string;
  /** Disks to attach at boot (block container root filesystems). */
  disks?: DiskSpec[];
  /** The guest's hostname (default: mayu). */
  hostname?: string;
  /** Kill the VM when this process dies (default true; false for mayu boot --keep). */
  dieWithParent?: boolean;
  /** Makes the hypervisor driver (default: QEMU); tests give a fake. */
  hypervisor?: HypervisorFactory;
}

/** What a hypervisor driver is made from. */
export interface HypervisorContext {
  config: RuntimeConfig;
  accel: AccelDecision;
  log: Logger;
  /** Hands the agent's log stream to the guest log relay. */
  onGuestLog: (stream: Readable) => void;
}

export type HypervisorFactory = (ctx: HypervisorContext) => Hypervisor;

const qemuFactory: HypervisorFactory = (ctx) =>
  new QemuHypervisor({ config: ctx.config.hypervisor.qemu, accel: ctx.accel, tscKhz: hostTscKhz(), log: ctx.log, onGuestLog: ctx.onGuestLog });

export interface SandboxContainerOptions {
  id: string;
  /** OCI runtime spec with host paths (they are rewritten for the guest). */
  spec: unknown;
  rootfs: ContainerRootfs;
  stdio: StdioSpec;
  /** Namespaces joined from another container of this sandbox (a pod's sandbox container). */
  shareNamespaces?: NamespaceShare;
}

export interface BootReport {
  timings: BootTimings;
  guest: GuestDetails;
  accel: AccelDecision;
  pid: number;
  stateDir: string;
  agentEndpoint: string;
}

/**
 * One pod's micro-VM: its state directory, hypervisor, and agent client.
 * create() plans everything and starts nothing; start() boots and waits for
 * the agent; stop() powers the guest off gracefully, destroy() kills it; both
 * remove everything the sandbox created, state directory included.
 */
export class Sandbox {
  readonly id: string;
  readonly stateDir: string;
  readonly accel: AccelDecision;
  readonly image: GuestImage;
  private readonly fsm: StateMachine<SandboxState>;
  private agentClient: AgentClient | null = null;
  private readonly log: Logger;
  /** How to undo each container's host side (mounts, writable layer). */
  private readonly containerReleases = new Map<string, () => Promise<void>>();
  /** Set once the hypervisor process has exited (killed, crashed or powered off). */
  private vmExited = false;

  private constructor(
    o: SandboxOptions,
    stateDir: string,
    image: GuestImage,
    accel: AccelDecision,
    readonly hypervisor: Hypervisor,
    private readonly config: RuntimeConfig,
    /** What the guest shares with the host (null with shared_fs = "none"). */
    private readonly shares: ContainerShares | null,
    private readonly hostname: string,
    private readonly vmSpec: VmSpec,
  ) {
    this.id = o.id;
    this.stateDir = stateDir;
    this.image = image;
    this.accel = accel;
    this.log = o.log;
    this.fsm = new StateMachine<SandboxState>(`sandbox ${o.id}`, 'created', SANDBOX_TRANSITIONS, (from, to) =>
      this.log.debug({ from, to }, 'sandbox state'),
    );
  }

  static create(o: SandboxOptions): Sandbox {
    const log = o.log.child({ sandboxId: o.id });
    const q = o.config.hypervisor.qemu;
    const image = locateGuestImage(o.config.runtime.guestImageDir);
    const accel = decideAccel(q.accel);
    log.info({ accel: accel.accel, reason: accel.reason }, 'acceleration');
    const agentChannel = q.agentChannel === 'auto' ? (hostHasVhostVsock() ? 'vsock' : 'serial') : q.agentChannel;
    const stateDir = createStateDir(o.config.runtime.stateDir, o.id);
    try {
      const relay = new GuestLogRelay(log.child({ subsystem: 'guest' }));
      const hypervisor = (o.hypervisor ?? qemuFactory)({
        config: o.config,
        accel,
        log: log.child({ subsystem: 'hypervisor' }),
        onGuestLog: (stream) => relay.attach(stream),
      });
      const spec: VmSpec = {
        id: o.id,
        stateDir,
        vcpus: o.vcpus ?? q.defaultVcpus,
        memoryMib: o.memoryMib ?? q.defaultMemoryMib,
        kernel: q.kernel || image.kernel,
        rootfs:
          q.rootfs === 'image'
            ? { kind: 'image', path: q.image || image.image, fsType: image.manifest.rootfsImageType }
            : { kind: 'initrd', path: q.initrd || image.initrd },
        agentChannel,
        kernelParams: [q.kernelParams, o.kernelParams ?? ''].join(' ').trim(),
        debug: q.enableDebug,
        disks: o.disks ?? [],
        privileges: { runAs: vmmRunAs(q.runAs, o.id, q.sharedFs === 'virtio-9p'), dieWithParent: o.dieWithParent ?? true },
      };
      const shares = Sandbox.planShares(stateDir, o.config);
      if (shares) {
        spec.sharedDirs = shares.tree.areas.map((area) => ({
          id: area,
          path: shares.tree.exportDir(area),
          tag: AREA_TAGS[area],
          kind: q.sharedFs as 'virtio-9p' | 'virtio-fs',
          attributes: area === 'mapped' ? 'mapped' : 'host',
        }));
      }
      for (const [key, path] of [['kernel', spec.kernel], [q.rootfs, spec.rootfs.path]] as const) {
        if (!existsSync(path)) throw new MayuError('ERR_GUEST_IMAGE', `hypervisor.qemu.${key}: ${path} does not exist`, { details: { key, path } });
      }
      hypervisor.prepare(spec);
      return new Sandbox({ ...o, log }, stateDir, image, accel, hypervisor, o.config, shares, o.hostname ?? 'mayu', spec);
    } catch (err) {
      removeDirSafely(stateDir);
      throw err;
    }
  }

  /**
   * The sandbox's shared tree: with 9p, a `shared` area (root filesystems,
   * read-only volumes) and a `mapped` one (read-write volumes: what the guest
   * sets there never becomes real on the host), unless volume_attributes is
   * "host"; virtio-fs has one daemon and one area. Nothing is mounted until
   * start().
   */
  private static planShares(stateDir: string, config: RuntimeConfig): ContainerShares | null {
    const kind = config.hypervisor.qemu.sharedFs;
    if (kind === 'none') return null;
    const areas: ShareArea[] = kind === 'virtio-9p' && config.hypervisor.qemu.volumeAttributes === 'mapped' ? ['shared', 'mapped'] : ['shared'];
    return {
      tree: SharedTree.plan(stateDir, areas),
      layers: new WritableLayers(join(stateDir, 'scratch'), config.runtime.containerLayerMib),
      writableVolumes: areas.includes('mapped') ? 'mapped' : 'shared',
    };
  }

  /**
   * Adds a disk to the VM before it boots (a block container rootfs; the
   * file may live in the state directory). microvm cannot hot-plug.
   */
  attachDiskAtBoot(disk: DiskSpec): void {
    if (this.fsm.state !== 'created') throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.id}: disks can only be added before it starts`);
    this.vmSpec.disks = [...(this.vmSpec.disks ?? []), disk];
    this.hypervisor.prepare(this.vmSpec);
  }

  get state(): SandboxState {
    return this.fsm.state;
  }

  get agent(): AgentClient {
    if (!this.agentClient) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.id} is not running`);
    return this.agentClient;
  }

  /** Boots the VM and waits for the agent; on failure nothing is left behind. */
  async start(): Promise<BootReport> {
    this.fsm.transition('starting');
    try {
      return await this.boot();
    } catch (err) {
      this.log.error({ err }, 'sandbox failed to start');
      await this.destroy();
      throw err;
    }
  }

  /** Gracefully powers the guest off (bounded by stop_timeout), then removes everything. */
  async stop(): Promise<void> {
    if (this.fsm.state === 'stopped') return;
    if (this.fsm.can('stopping')) this.fsm.transition('stopping');
    this.agentClient?.close();
    await this.hypervisor.stop(this.config.runtime.stopTimeoutMs);
    await this.release();
  }

  /** Kills the VM at once and removes everything; idempotent. */
  async destroy(): Promise<void> {
    if (this.fsm.state === 'stopped') return;
    this.agentClient?.close();
    await this.hypervisor.destroy();
    await this.release();
  }

  /** Leaves the VM running with nothing of this process attached (mayu boot --keep). */
  detach(): void {
    this.agentClient?.close();
    this.agentClient = null;
    this.hypervisor.disconnect();
  }

  private async boot(): Promise<BootReport> {
    await this.shares?.tree.setUp();
    const started = await this.hypervisor.start();
    writeRecord({
      id: this.id,
      stateDir: this.stateDir,
      hypervisor: this.hypervisor.kind,
      pid: started.pid,
      createdAt: new Date().toISOString(),
      agentEndpoint: this.hypervisor.agentEndpoint(),
    });
    const agent = await AgentClient.open({
      endpoint: this.hypervisor.agentEndpoint(),
      bridgeSocket: join(this.stateDir, 'agent-grpc.sock'),
      dialTimeoutMs: this.config.agent.dialTimeoutMs,
      callTimeoutMs: this.config.agent.callTimeoutMs,
      log: this.log,
    });
    this.agentClient = agent;
    const exited = this.hypervisor.wait().then((exit) => {
      this.vmExited = true;
      throw new MayuError('ERR_HYPERVISOR', `the VM exited while booting (code ${String(exit.code)}, signal ${String(exit.signal)})`);
    });
    exited.catch(() => {});
    await Promise.race([agent.waitReady(), exited]).catch((err: unknown) => {
      if (isMayuError(err, 'ERR_AGENT_TIMEOUT')) {
        throw new MayuError('ERR_AGENT_TIMEOUT', `the agent did not answer within ${this.config.agent.dialTimeoutMs} ms of boot (see ${this.stateDir}/console.log)`, { cause: err });
      }
      throw err;
    });
    const firstRpcAt = performance.now();
    this.log.info({ event: 'agent.ready', firstRpcMs: firstRpcAt - started.spawnedAt }, 'agent ready');
    const detailsSentAt = performance.now();
    const guest = await agent.guestDetails();
    const detailsReceivedAt = performance.now();
    await agent.createSandbox({
      sandboxId: this.id,
      hostname: this.hostname,
      dns: [],
      storages: this.sandboxStorages(),
      sandboxPidns: false,
      annotations: {},
    });
    this.fsm.transition('running');
    const timings = computeBootTimings({ ...started, firstRpcAt, detailsSentAt, detailsReceivedAt, guest });
    this.log.info({ event: 'vm.booted', timings }, 'sandbox booted');
    return { timings, guest, accel: this.accel, pid: started.pid, stateDir: this.stateDir, agentEndpoint: this.hypervisor.agentEndpoint() };
  }

  /**
   * Creates a container in the sandbox: its rootfs and volumes are made
   * visible to the guest and the spec's paths rewritten, then the agent
   * creates it. On failure the host mounts are undone.
   */
  async createContainer(o: SandboxContainerOptions): Promise<void> {
    if (this.containerReleases.has(o.id)) throw new MayuError('ERR_ALREADY_EXISTS', `container ${o.id} already exists in sandbox ${this.id}`);
    const prepared = await prepareContainer({ id: o.id, spec: o.spec, rootfs: o.rootfs, shares: this.shares });
    try {
      await this.agent.createContainer({
        containerId: o.id,
        spec: prepared.spec,
        storages: prepared.storages,
        stdio: o.stdio,
        shareNamespaces: o.shareNamespaces,
      });
    } catch (err) {
      await prepared.release();
      throw err;
    }
    this.containerReleases.set(o.id, prepared.release);
    this.log.info({ event: 'container.created', containerId: o.id }, 'container created');
  }

  /** Removes a container from the guest, then its host mounts. */
  async removeContainer(id: string, timeoutMs = 0): Promise<void> {
    try {
      // A dead VM took its containers with it: only the host side is left.
      if (!this.vmExited) await this.agent.removeContainer(id, timeoutMs);
    } finally {
      await this.containerReleases.get(id)?.();
      this.containerReleases.delete(id);
    }
  }

  private sandboxStorages(): StorageSpec[] {
    if (!this.shares) return [];
    const driver = this.config.hypervisor.qemu.sharedFs === 'virtio-fs' ? 'virtio-fs' : '9p';
    return this.shares.tree.areas.map((area) => ({ driver, source: AREA_TAGS[area], fstype: '', options: [], mountPoint: GUEST_AREA_DIRS[area] }));
  }

  private async release(): Promise<void> {
    this.agentClient = null;
    await this.hypervisor.cleanup();
    for (const release of this.containerReleases.values()) await release().catch(() => {});
    this.containerReleases.clear();
    removeDirSafely(this.stateDir);
    this.fsm.transition('stopped');
    this.log.info({ event: 'sandbox.removed' }, 'sandbox removed');
  }
}
