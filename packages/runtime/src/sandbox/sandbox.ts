import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { GUEST_SHARE_DIRS, isMayuError, MayuError, SHARE_TAGS, StateMachine, type GuestDetails, type NamespaceShare, type StdioSpec, type StorageSpec } from '@mayu/protocol';
import type { Logger } from 'pino';
import { AgentClient } from '../agent/agent-client.js';
import type { RuntimeConfig, SharedFsKind } from '../config/runtime-config.js';
import type { AccelDecision } from '../host/accel.js';
import { locateGuestImage, type GuestImage } from '../host/guest-image.js';
import { admitVm, hostAvailableMib, processRssMib } from '../host/memory-admission.js';
import { hypervisorFactory } from '../hypervisor/backends.js';
import type { Hypervisor, HypervisorFactory, VmExit, VmSpec, VmStarted } from '../hypervisor/hypervisor.js';
import { VmFactory } from '../factory/vm-factory.js';
import type { Template } from '../factory/template-store.js';
import { removeDirSafely } from '../storage/host-mounts.js';
import { buildRootfsImage } from '../storage/rootfs-image.js';
import { AgentHealthWatch } from './agent-health.js';
import { computeBootTimings, type BootTimings } from './boot-timings.js';
import { guestExitReason } from './exit-reason.js';
import { prepareContainer, type ContainerRootfs, type ContainerShares } from './container-setup.js';
import { specForGuest } from './guest-spec.js';
import { GuestLogRelay } from './guest-log-relay.js';
import { SANDBOX_TRANSITIONS, type SandboxState } from './sandbox-state.js';
import { listSandboxes } from './sandbox-records.js';
import { createStateDir, writeRecord } from './state-dir.js';
import { planVm } from './vm-plan.js';
import { containerLimits, podVmSize, type ContainerLimits, type VmSize } from './vm-size.js';
import { PodNetworking } from '../network/pod-network.js';
import { PortForwarder } from '../network/port-forward.js';
import { tapName } from '../network/tap-bridge.js';
import { templateMac } from '../hypervisor/template-mac.js';

export interface SandboxOptions {
  id: string;
  config: RuntimeConfig;
  log: Logger;
  /** vCPUs and memory; default: the configuration's. */
  vcpus?: number;
  memoryMib?: number;
  /**
   * The VM may have to grow its memory after boot (a pod whose containers'
   * limits arrive later, or may be resized): it gets room up to max_memory,
   * on a machine that can grow (q35 under machine_type = "auto"). vCPUs can
   * grow on any QEMU VM.
   */
  growMemory?: boolean;
  /** Kernel parameters added after the configuration's. */
  kernelParams?: string;
  /** The guest's hostname (default: mayu). */
  hostname?: string;
  /** Kill the VM when this process dies (default true; false for mayu boot --keep). */
  dieWithParent?: boolean;
  /** Makes the hypervisor driver (default: the backend named by sandbox.hypervisor); tests give a fake. */
  hypervisor?: HypervisorFactory;
  /**
   * The pod's network namespace (CNI has run in it): its interfaces are
   * brought into the VM. Absent: the guest has no network (lo only).
   */
  network?: {
    netns: string;
    /**
     * Serve Kubernetes port-forward: containerd's dials to localhost:PORT in
     * the namespace reach PORT in the VM (see PortForwarder). The shim asks
     * for it; `mayu run` leaves a namespace it joins as it was.
     */
    portForward?: boolean;
  };
}

export interface SandboxContainerOptions {
  id: string;
  /**
   * The container's OCI spec as the caller has it: host paths, root.path
   * absolute or relative to `bundle`. The sandbox makes it fit for the guest.
   */
  spec: unknown;
  /** The OCI bundle a relative root.path is relative to. */
  bundle?: string;
  /**
   * What root.path is: `own` — the container's own root filesystem
   * (containerd's, an OCI bundle's), written in place as runc would; `image`
   * — a read-only image, never written: the container gets a layer of its own.
   */
  rootfs?: 'own' | 'image';
  stdio: StdioSpec;
  /** Namespaces joined from another container of this sandbox (a pod's sandbox container). */
  shareNamespaces?: NamespaceShare;
}

/** How long the guest may take to bring up what its VM grew by (plugging 1 GiB under TCG takes about a second). */
const RESIZE_TIMEOUT_MS = 60_000;

/** The size a VM boots at: the configured defaults (or less) for what it can grow after boot, its own size for the rest. */
function bootSize(wanted: VmSize, config: RuntimeConfig, grows: { vcpus: boolean; memory: boolean }): VmSize {
  return {
    vcpus: grows.vcpus ? Math.min(wanted.vcpus, config.sandbox.defaultVcpus) : wanted.vcpus,
    memoryMib: grows.memory ? Math.min(wanted.memoryMib, config.sandbox.defaultMemoryMib) : wanted.memoryMib,
  };
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
 * One pod's micro-VM, whatever the hypervisor: its state directory, its
 * VM, its shared tree and its agent client. create() plans everything and
 * starts nothing; start() boots and waits for the agent; stop() powers the
 * guest off gracefully, destroy() kills it; both remove everything the
 * sandbox created, state directory included. Callers never reach the
 * hypervisor: what they need (pid, exit, agent endpoint) is here.
 */
export class Sandbox {
  readonly id: string;
  readonly stateDir: string;
  readonly image: GuestImage;
  private readonly fsm: StateMachine<SandboxState>;
  private agentClient: AgentClient | null = null;
  private readonly log: Logger;
  /** How to undo each container's host side (mounts, writable layer). */
  private readonly containerReleases = new Map<string, () => Promise<void>>();
  /** Root filesystems delivered as disks at boot, by container id (container_rootfs = "block"). */
  private readonly bootDisks = new Map<string, string>();
  /** Set once the hypervisor process has exited (killed, crashed or powered off). */
  private vmExited = false;
  /** The pod network wired to the VM, once started. */
  private networking: PodNetworking | null = null;
  /** The VM was restored from a template (a clone), not booted. */
  private restored = false;
  /** Asks the running agent Check; kills a hung VM. */
  private health: AgentHealthWatch | null = null;
  /** Why the VM was killed as hung, once it was. */
  private hungReason: string | null = null;
  /** Serves port-forward in the pod's namespace (network.portForward). */
  private portForwarder: PortForwarder | null = null;
  private readonly createdAt = new Date().toISOString();
  /** The VM's size now: what it booted with, then what it grew to. */
  private size: VmSize;
  /** Resizes run one after another. */
  private resizing: Promise<unknown> = Promise.resolve();
  /** Each container's own limits, by id: what the VM grows to hold (see podVmSize). */
  private readonly limits = new Map<string, ContainerLimits>();

  private constructor(
    o: SandboxOptions,
    stateDir: string,
    image: GuestImage,
    private readonly hypervisor: Hypervisor,
    private readonly config: RuntimeConfig,
    private readonly sharedFs: SharedFsKind,
    /** What the guest shares with the host (null with shared_fs = "none"). */
    private readonly shares: ContainerShares | null,
    private readonly hostname: string,
    private readonly vmSpec: VmSpec,
    private readonly network: { netns: string; portForward?: boolean } | null,
    /** VM templates (config.factory.template), or null to always boot cold. */
    private readonly factory: VmFactory | null,
    /** The size the VM is to have once started (it may boot smaller and grow to it). */
    private readonly wanted: VmSize,
  ) {
    this.id = o.id;
    this.stateDir = stateDir;
    this.image = image;
    this.log = o.log;
    this.size = { vcpus: vmSpec.vcpus, memoryMib: vmSpec.memoryMib };
    this.fsm = new StateMachine<SandboxState>(`sandbox ${o.id}`, 'created', SANDBOX_TRANSITIONS, (from, to) => this.log.debug({ from, to }, 'sandbox state'));
  }

  static create(o: SandboxOptions): Sandbox {
    const log = o.log.child({ sandboxId: o.id });
    const backend = o.config.sandbox.hypervisor;
    const factory = o.hypervisor ?? hypervisorFactory(backend);
    const image = locateGuestImage(o.config.sandbox.guestImageDir);
    const stateDir = createStateDir(o.config.runtime.stateDir, o.id);
    try {
      const relay = new GuestLogRelay(log.child({ subsystem: 'guest' }));
      const hypervisor = factory({ config: o.config, log: log.child({ subsystem: 'hypervisor', hypervisor: backend }), onGuestLog: (stream) => relay.attach(stream) });
      const wanted: VmSize = { vcpus: o.vcpus ?? o.config.sandbox.defaultVcpus, memoryMib: o.memoryMib ?? o.config.sandbox.defaultMemoryMib };
      // With templates, what can grow boots at the default size (one template for every size) and grows to its own right after.
      const caps = hypervisor.capabilities;
      const boot = o.config.factory.template ? bootSize(wanted, o.config, { vcpus: caps.grow.vcpus, memory: caps.grow.memory && !!o.growMemory }) : wanted;
      const plan = planVm({ ...o, ...boot, stateDir, image, caps: hypervisor.capabilities, backend: hypervisor.kind });
      if (o.network && !hypervisor.capabilities.tapNetworking) {
        throw new MayuError('ERR_HOST_CAPABILITY', `hypervisor ${hypervisor.kind} cannot bring a pod network into its VM yet (network namespace ${o.network.netns})`, {
          details: { netns: o.network.netns },
        });
      }
      hypervisor.prepare(plan.spec);
      const vmFactory = o.config.factory.template ? new VmFactory({ config: o.config, hypervisorFactory: factory, log: log.child({ subsystem: 'factory' }) }) : null;
      return new Sandbox({ ...o, log }, stateDir, image, hypervisor, o.config, plan.sharedFs, plan.shares, o.hostname ?? 'mayu', plan.spec, o.network ?? null, vmFactory, wanted);
    } catch (err) {
      removeDirSafely(stateDir);
      throw err;
    }
  }

  /**
   * Refuses, naming the field, a container spec the guest cannot honour —
   * before a VM is booted for it (createContainer checks it again).
   */
  static checkContainerSpec(config: RuntimeConfig, spec: unknown, o: { bundle?: string; terminal: boolean }): void {
    specForGuest(spec, { ...o, lsmLabels: config.runtime.lsmLabels, hostNamespaces: config.runtime.hostNamespaces });
  }

  /** How the VM's CPUs run, and why. */
  get accel(): AccelDecision {
    return this.hypervisor.accel;
  }

  /** The hypervisor's process (null until started). */
  get pid(): number | null {
    return this.hypervisor.pid;
  }

  /** The agent's address as a dialer URL. */
  get agentEndpoint(): string {
    return this.hypervisor.agentEndpoint();
  }

  /** Resolves when the VM is gone (powered off, killed, crashed). */
  exited(): Promise<VmExit> {
    return this.hypervisor.wait();
  }

  /**
   * Why the VM is gone, for the operator: killed as hung, the guest
   * kernel's panic (from the end of its console log), or how its
   * hypervisor process ended.
   */
  exitReason(exit: VmExit): string {
    return this.hungReason ?? guestExitReason(join(this.stateDir, 'console.log')) ?? `the hypervisor exited (code ${String(exit.code)}, signal ${String(exit.signal)})`;
  }

  /** A VM whose agent stopped answering is killed: whoever waits on it is answered (the VM died). */
  private async killHung(reason: string): Promise<void> {
    if (this.fsm.state !== 'running') return;
    this.hungReason = reason;
    this.log.error({ event: 'vm.hung', sandboxId: this.id, reason }, 'killing a hung VM');
    await this.hypervisor.destroy().catch((err: unknown) => this.log.warn({ err }, 'killing the hung VM failed'));
  }

  /**
   * Offers a container's root filesystem before the VM boots. With
   * container_rootfs = "block", it becomes a read-only erofs disk (the guest
   * puts a writable overlay on top); otherwise nothing happens here and
   * createContainer shares it. Disks must be known at boot: microvm cannot
   * hot-plug. The image is built in the state directory.
   */
  async offerRootfs(containerId: string, rootfs: string): Promise<void> {
    if (this.config.sandbox.containerRootfs !== 'block') return;
    if (this.fsm.state !== 'created') throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.id}: a block rootfs can only be added before it starts`);
    const n = this.bootDisks.size;
    const serial = n === 0 ? 'mayu-rootfs' : `mayu-rootfs-${n}`;
    const file = join(this.stateDir, `rootfs-${n}.erofs`);
    await buildRootfsImage(rootfs, file);
    this.vmSpec.disks = [...(this.vmSpec.disks ?? []), { id: `ctr-rootfs-${n}`, path: file, readOnly: true, serial }];
    this.hypervisor.prepare(this.vmSpec);
    this.bootDisks.set(containerId, serial);
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

  /**
   * The VM template sandboxes like this one start from, built now if there
   * is none, without starting this one (mayu template build); `nics` shapes
   * it for pods (one tap each, of that MTU). Null when templates are off or
   * this kind of sandbox cannot use one.
   */
  async template(o: { nics?: number; mtu?: number } = {}): Promise<Template | null> {
    if (!this.factory) return null;
    const nics = Array.from({ length: o.nics ?? 0 }, (_, n) => ({ tap: tapName(n), mac: templateMac(n), mtu: o.mtu ?? 1500 }));
    return this.factory.templateFor({ ...this.vmSpec, ...(nics.length > 0 ? { nics, netns: '/template' } : {}) }, this.hypervisor);
  }

  /**
   * Gracefully powers the guest off (bounded by stop_timeout), then removes
   * everything; a clone is killed once its shares are unmounted.
   */
  async stop(): Promise<void> {
    if (this.fsm.state === 'stopped') return;
    if (this.fsm.can('stopping')) this.fsm.transition('stopping');
    this.health?.stop();
    if (this.restored && this.agentClient && !this.vmExited) {
      // A clone is disposable: its shares are unmounted in the guest (dirty
      // pages reach the host), then it is killed — no guest power-off.
      await this.agentClient.destroySandbox().catch((err: unknown) => this.log.debug({ err }, 'DestroySandbox failed; killing the clone anyway'));
      this.agentClient.close();
      await this.hypervisor.destroy();
    } else {
      this.agentClient?.close();
      await this.hypervisor.stop(this.config.runtime.stopTimeoutMs);
    }
    await this.release();
  }

  /** Kills the VM at once and removes everything; idempotent. */
  async destroy(): Promise<void> {
    if (this.fsm.state === 'stopped') return;
    this.health?.stop();
    this.agentClient?.close();
    await this.hypervisor.destroy();
    await this.release();
  }

  /** Leaves the VM running with nothing of this process attached (mayu boot --keep). */
  detach(): void {
    this.health?.stop();
    this.agentClient?.close();
    this.agentClient = null;
    this.hypervisor.disconnect();
  }

  /** Host memory admission (runtime.host_memory_reserve): refused before anything is set up. */
  private admitMemory(): void {
    const running = listSandboxes(this.config)
      .filter((s) => s.running && s.id !== this.id && s.pid)
      .map((s) => ({ id: s.id, memoryMib: s.memoryMib ?? 0, rssMib: processRssMib(s.pid as number) }));
    admitVm({ id: this.id, memoryMib: Math.max(this.wanted.memoryMib, this.vmSpec.memoryMib), reserveMib: this.config.runtime.hostMemoryReserveMib, availableMib: hostAvailableMib(), running });
  }

  private record(pid: number | null): void {
    writeRecord({
      id: this.id,
      stateDir: this.stateDir,
      hypervisor: this.hypervisor.kind,
      pid,
      createdAt: this.createdAt,
      agentEndpoint: this.hypervisor.agentEndpoint(),
      memoryMib: this.size.memoryMib,
      ...(this.networking ? { network: this.networking.record } : {}),
    });
  }

  /** Wires the pod's network to taps for the VM's NICs (recorded at once: a crash must not leave them unknown). */
  private async attachNetwork(): Promise<void> {
    if (!this.network) return;
    // The VMM opens its taps while it still has its start-up uid: root.
    this.networking = await PodNetworking.attach(this.network.netns, { uid: 0, gid: 0 }, this.log.child({ subsystem: 'network' }));
    this.record(null);
    this.vmSpec.netns = this.network.netns;
    this.vmSpec.nics = this.networking.nics();
    this.hypervisor.prepare(this.vmSpec);
  }

  /**
   * Starts the VM: a clone of its template when there is one (built now on
   * first use), else a cold boot; a clone that fails to restore loses its
   * template and the VM boots cold.
   */
  private async startVm(): Promise<{ started: VmStarted; template: Template | null }> {
    const template = await this.factory?.templateFor(this.vmSpec, this.hypervisor).catch((err: unknown) => {
      this.log.warn({ err }, 'cannot build a VM template: booting cold');
      return null;
    });
    if (!template) return { started: await this.hypervisor.start(), template: null };
    this.vmSpec.memoryFile = { path: template.memoryFile, shared: false };
    this.vmSpec.incoming = { stateFile: template.stateFile };
    this.hypervisor.prepare(this.vmSpec);
    try {
      return { started: await this.hypervisor.start(), template };
    } catch (err) {
      this.log.warn({ err, template: template.manifest.key }, 'the VM could not be restored from its template: template removed, booting cold');
      this.factory?.store.remove(template.manifest.key);
      delete this.vmSpec.memoryFile;
      delete this.vmSpec.incoming;
      this.hypervisor.prepare(this.vmSpec);
      return { started: await this.hypervisor.start(), template: null };
    }
  }

  private async boot(): Promise<BootReport> {
    this.admitMemory();
    // Recorded before anything is mounted: an owner killed at any point (a template build takes seconds) leaves a sandbox removeSandbox can find.
    this.record(null);
    await this.shares?.tree.setUp();
    await this.attachNetwork();
    const { started, template } = await this.startVm();
    this.restored = !!started.restored;
    this.record(started.pid);
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
    this.log.info({ event: 'agent.ready', firstRpcMs: firstRpcAt - started.spawnedAt, restored: !!started.restored }, 'agent ready');
    if (started.restored) {
      // A clone has its template's clock and random state: its own, before anything runs in it.
      await agent.setGuestDateTime();
      await agent.reseedRandom(randomBytes(64));
    }
    const detailsSentAt = performance.now();
    const guest = await agent.guestDetails();
    const detailsReceivedAt = performance.now();
    // The pod's network is the guest's before its first container (a clone's NICs have the template's MACs until then).
    await this.networking?.configureGuest(agent, template?.manifest.nicMacs ?? []);
    if (this.network?.portForward) this.portForwarder = await PortForwarder.start(this.network.netns, agent, this.log.child({ subsystem: 'port-forward' }));
    await agent.createSandbox({
      sandboxId: this.id,
      hostname: this.hostname,
      dns: [],
      storages: this.sandboxStorages(),
      sandboxPidns: false,
      annotations: {},
    });
    if (this.wanted.vcpus > this.size.vcpus || this.wanted.memoryMib > this.size.memoryMib) await this.grow(this.wanted);
    this.fsm.transition('running');
    this.health = new AgentHealthWatch({
      intervalMs: this.config.agent.healthIntervalMs,
      timeoutMs: this.config.agent.healthTimeoutMs,
      check: (timeoutMs) => agent.check({ timeoutMs }),
      onHung: (reason) => void this.killHung(reason),
      log: this.log.child({ subsystem: 'health' }),
    });
    this.health.start();
    const timings = computeBootTimings({ ...started, firstRpcAt, detailsSentAt, detailsReceivedAt, guest, restored: !!started.restored });
    this.log.info({ event: 'vm.booted', timings }, 'sandbox booted');
    return { timings, guest, accel: this.accel, pid: started.pid, stateDir: this.stateDir, agentEndpoint: this.agentEndpoint };
  }

  /** The VM's size now. */
  get vmSize(): VmSize {
    return { ...this.size };
  }

  /**
   * Grows the VM to `want` where it is smaller (capped at what it may grow
   * to, VmSpec.maxVcpus / maxMemoryMib): the hypervisor plugs the memory,
   * the agent onlines the vCPUs and raises the containers' memory cap.
   * A VM never shrinks: what `want` has less of stays. Resizes run one at a
   * time; answers the size the VM then has. A backend that cannot grow
   * keeps its size (logged).
   */
  resize(want: VmSize): Promise<VmSize> {
    if (this.fsm.state !== 'running') return Promise.reject(new MayuError('ERR_INVALID_STATE', `sandbox ${this.id} is not running`));
    const next = this.resizing.then(() => this.grow(want));
    this.resizing = next.catch(() => {});
    return next;
  }

  private async grow(want: VmSize): Promise<VmSize> {
    const target: VmSize = {
      vcpus: Math.max(this.size.vcpus, Math.min(want.vcpus, this.vmSpec.maxVcpus ?? this.vmSpec.vcpus)),
      memoryMib: Math.max(this.size.memoryMib, Math.min(want.memoryMib, this.vmSpec.maxMemoryMib ?? this.vmSpec.memoryMib)),
    };
    if (target.vcpus === this.size.vcpus && target.memoryMib === this.size.memoryMib) {
      if (want.vcpus > target.vcpus || want.memoryMib > target.memoryMib) this.log.info({ want, size: this.size }, 'the VM cannot grow further (max_vcpus, max_memory, or a backend that cannot grow)');
      return this.vmSize;
    }
    const startedAt = performance.now();
    if (target.memoryMib > this.size.memoryMib) {
      if (!this.hypervisor.resizeMemory) throw new MayuError('ERR_HOST_CAPABILITY', `hypervisor ${this.hypervisor.kind} cannot grow a VM's memory`);
      await this.hypervisor.resizeMemory(target.memoryMib, RESIZE_TIMEOUT_MS);
    }
    const guest = await this.agent.resizeGuest({ vcpus: target.vcpus, addedMemoryBytes: (target.memoryMib - this.vmSpec.memoryMib) * 1048576, timeoutMs: RESIZE_TIMEOUT_MS });
    const from = this.size;
    this.size = target;
    this.record(this.hypervisor.pid);
    this.log.info({ event: 'vm.resized', from, to: target, onlineCpus: guest.onlineCpus, memTotal: guest.memoryTotalBytes, ms: Math.round(performance.now() - startedAt) }, 'VM grown');
    return this.vmSize;
  }

  /**
   * Creates a container in the sandbox, the whole host side in one place:
   * the spec is made fit for the guest (or refused, naming the field), its
   * rootfs delivered (a boot disk, or the shared tree: in place or under a
   * layer of its own) and its volumes shared, their paths rewritten; then
   * the agent creates it. On failure the host side is undone.
   */
  async createContainer(o: SandboxContainerOptions): Promise<void> {
    if (this.containerReleases.has(o.id)) throw new MayuError('ERR_ALREADY_EXISTS', `container ${o.id} already exists in sandbox ${this.id}`);
    const spec = specForGuest(o.spec, {
      bundle: o.bundle,
      terminal: o.stdio.terminal,
      lsmLabels: this.config.runtime.lsmLabels,
      hostNamespaces: this.config.runtime.hostNamespaces,
      onDropped: (field, value) =>
        this.log.warn(
          { containerId: o.id, field, value },
          'dropped from the spec (runtime.lsm_labels = "drop", or a hostname in the VM\'s UTS namespace with host_namespaces = "vm"): the VM is this container\'s boundary',
        ),
      onIgnored: (field) => this.log.warn({ containerId: o.id, field }, 'unknown spec property ignored, as the runtime-spec says'),
    });
    const path = (spec.root as { path: string }).path;
    const disk = this.bootDisks.get(o.id);
    const rootfs: ContainerRootfs = disk ? { kind: 'disk', serial: disk } : o.rootfs === 'image' ? { kind: 'image', path } : { kind: 'shared-fs', path };
    // The VM grows to hold this container's limits beside the others' (a pod whose limits were not known at boot).
    await this.growFor(o.id, containerLimits((o.spec as { linux?: { resources?: unknown } } | null)?.linux?.resources));
    let prepared: Awaited<ReturnType<typeof prepareContainer>>;
    try {
      prepared = await prepareContainer({ id: o.id, spec, rootfs, shares: this.shares });
    } catch (err) {
      this.limits.delete(o.id);
      throw err;
    }
    try {
      await this.agent.createContainer({
        containerId: o.id,
        spec: prepared.spec,
        storages: prepared.storages,
        stdio: o.stdio,
        shareNamespaces: o.shareNamespaces,
      });
    } catch (err) {
      this.limits.delete(o.id);
      await prepared.release();
      throw err;
    }
    this.containerReleases.set(o.id, prepared.release);
    this.log.info({ event: 'container.created', containerId: o.id }, 'container created');
  }

  /** Removes a container from the guest, then its host mounts. */
  async removeContainer(id: string, timeoutMs = 0): Promise<void> {
    try {
      // A dead VM took its containers with it: only the host side is left. A
      // VM being killed as hung, or dying during the call, ends the wait too:
      // the agent's deadline (seconds) must not hold up a delete.
      if (!this.vmExited && !this.hungReason) {
        const call = this.agent.removeContainer(id, timeoutMs);
        call.catch(() => {});
        await Promise.race([call, this.exited()]);
      }
    } finally {
      this.limits.delete(id);
      await this.containerReleases.get(id)?.();
      this.containerReleases.delete(id);
    }
  }

  /**
   * A container's new resources (an in-place resize): the VM grows first
   * when the new limits need it, then the agent sets the container's
   * cgroup. A smaller limit leaves the VM as it is.
   */
  async updateContainer(id: string, resources: unknown): Promise<void> {
    if (!this.containerReleases.has(id)) throw new MayuError('ERR_NOT_FOUND', `container ${id} is not in sandbox ${this.id}`);
    await this.growFor(id, containerLimits(resources));
    await this.agent.updateContainer(id, resources);
  }

  /** Whether any of its containers has a memory limit (the pod's host cgroup then bounds the VM). */
  get containersLimitMemory(): boolean {
    return [...this.limits.values()].some((l) => l.mib > 0);
  }

  /**
   * Records a container's limits and grows the VM to the sum of its
   * containers' (podVmSize); a VM that cannot grow that far fails the call,
   * and the limits are not recorded.
   */
  private async growFor(id: string, limits: ContainerLimits): Promise<void> {
    const before = this.limits.get(id);
    this.limits.set(id, limits);
    try {
      await this.resize(podVmSize(this.config.sandbox, this.size, this.limits.values()));
    } catch (err) {
      if (before) this.limits.set(id, before);
      else this.limits.delete(id);
      throw err;
    }
  }

  private sandboxStorages(): StorageSpec[] {
    if (!this.shares) return [];
    const driver = this.sharedFs === 'virtio-fs' ? 'virtio-fs' : '9p';
    return this.shares.tree.areas.map((area) => ({ driver, source: SHARE_TAGS[area], fstype: '', options: [], mountPoint: GUEST_SHARE_DIRS[area] }));
  }

  private async release(): Promise<void> {
    this.agentClient = null;
    await this.hypervisor.cleanup();
    await this.portForwarder?.close();
    this.portForwarder = null;
    await this.networking?.detach();
    this.networking = null;
    for (const release of this.containerReleases.values()) await release().catch(() => {});
    this.containerReleases.clear();
    removeDirSafely(this.stateDir);
    this.fsm.transition('stopped');
    this.log.info({ event: 'sandbox.removed' }, 'sandbox removed');
  }
}
