import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { anyWire, cgroupsV2Wire, eventsWire, MayuError, podRoleOf, taskWire, type ExitStatus, type ProcessRef } from '@mayu/protocol';
import {
  hostCgroupMetrics,
  joinPodCgroup,
  type HostCgroupMetrics,
  podSharedNamespaces,
  resolveHostNamespaces,
  Sandbox,
  vmSizeFromSpec,
  mayGrowMemory,
  podHasMemoryLimit,
  vmmMemoryBoundMib,
  limitCgroupMemory,
  type PodCgroupPlacement,
  type RuntimeConfig,
  type SandboxOptions,
} from '@mayu/runtime';
import type { ServiceImplementation } from '@mayu/ttrpc';
import type { Logger } from 'pino';
import { SANDBOX_MARKER } from '../address.js';
import { shimConfig } from '../config.js';
import { configPathFromAny } from '../runtime-options.js';
import type { EventPublisher } from '../events/publisher.js';
import { timestamp } from '../timestamp.js';
import { parseStdio, ShimIo } from '../io/stdio.js';
import { eventType as typeOf, metricsOf, STATUS_OF } from './task-wire.js';
import { OomWatcher } from './oom-watcher.js';
import { withPodShares, type PodShares } from './pod-files.js';
import { mountRootfs, unmountRootfs } from './rootfs-mounts.js';
import { TaskProcess } from './task-process.js';

type TaskDef = typeof taskWire.TaskDefinition;

interface TaskContainer {
  id: string;
  bundle: string;
  rootfs: string;
  rootfsMounted: boolean;
  init: TaskProcess;
  execs: Map<string, TaskProcess>;
}

export interface TaskServiceOptions {
  /** The group this shim serves: the sandbox's id (its VM). */
  groupId: string;
  /** The sandbox task's bundle (the server's working directory). */
  bundle: string;
  /** The configuration file in use, if any (recorded for `delete`). */
  configPath?: string;
  namespace: string;
  /** The configuration the server started with: containerd's ConfigPath (given to `start`), else the default. */
  config: RuntimeConfig;
  log: Logger;
  /** The logger the sandbox (VM) logs to; it adds the sandbox id itself. */
  vmLog: Logger;
  events: EventPublisher;
  /** Called once Shutdown finds nothing left to serve. */
  onShutdown: () => void;
  /** Makes the pod's sandbox (default Sandbox.create); tests give one with a fake hypervisor. */
  createSandbox?: (o: SandboxOptions) => Sandbox;
}

/** The bundle's config.json; unreadable or not a JSON object is INVALID_ARGUMENT naming the file. */
function readSpec(bundle: string): { annotations?: Record<string, string>; root?: { path?: unknown } } {
  const path = join(bundle, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MayuError('ERR_INVALID_ARGUMENT', `${path}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new MayuError('ERR_INVALID_ARGUMENT', `${path}: not a JSON object`);
  return raw;
}

/** The network namespace the sandbox's spec joins (the pod's, made by CRI and CNI), if any. */
function podNetns(spec: unknown): string | undefined {
  const namespaces = (spec as { linux?: { namespaces?: { type?: string; path?: string }[] } }).linux?.namespaces;
  const path = Array.isArray(namespaces) ? namespaces.find((ns) => ns.type === 'network')?.path : undefined;
  return typeof path === 'string' && path !== '' ? path : undefined;
}

/** The sandbox spec's linux.cgroupsPath (the pod's cgroup as kubelet and the engine name it), if any; not a string is INVALID_ARGUMENT. */
function podCgroupsPath(spec: unknown): string | undefined {
  const path = (spec as { linux?: { cgroupsPath?: unknown } }).linux?.cgroupsPath;
  if (path === undefined || path === '') return undefined;
  if (typeof path !== 'string') throw new MayuError('ERR_INVALID_ARGUMENT', `linux.cgroupsPath: ${JSON.stringify(path)} is not a string`);
  return path;
}

/** Where containerd's rootfs mounts go: the spec's root.path, relative to the bundle. */
function rootfsOf(spec: { root?: { path?: unknown } }, bundle: string): string {
  const path = typeof spec.root?.path === 'string' ? spec.root.path : 'rootfs';
  return isAbsolute(path) ? path : join(bundle, path);
}

interface PodExit {
  status: number;
  at: Date;
}

/** A Sandbox-API pod's end: set once (StopSandbox, or its VM's death), awaited by WaitSandbox. */
class PodEnd {
  exit: PodExit | null = null;
  /** The pod's /etc files (bound into each container that does not mount them itself) and sysctls. */
  constructor(readonly shares: PodShares) {}

  private resolve: (e: PodExit) => void = () => {};
  readonly exited = new Promise<PodExit>((resolve) => (this.resolve = resolve));

  end(status: number): void {
    if (this.exit) return;
    this.exit = { status, at: new Date() };
    this.resolve(this.exit);
  }
}

const notFound = (what: string): MayuError => new MayuError('ERR_NOT_FOUND', `${what} not found`);

/**
 * containerd's Task API for one pod: the sandbox's Create boots the VM, every
 * container of the pod is created in it, and each process's stdio, exit and
 * events go back to containerd. Task pids are the VM's (QEMU's) pid, as with
 * Kata: the processes themselves live in the guest.
 */
export class TaskService {
  private sandbox: Sandbox | null = null;
  /** The pod's sandbox says it has a memory limit (containerd 1.7+): its host cgroup bounds the VM (boundPodHost). */
  private podLimited = false;
  private booting: Promise<Sandbox> | null = null;
  /** The pod's host cgroup this server joined for its VM, left when the VM is gone. */
  private placement: PodCgroupPlacement | null = null;
  private readonly containers = new Map<string, TaskContainer>();
  private shuttingDown = false;
  /** StopSandbox is powering the VM off: its end is not a death. */
  private stoppingPod = false;
  private oomWatcher: OomWatcher | null = null;
  private config: RuntimeConfig;
  private configPath: string | undefined;
  /**
   * The Sandbox API's pod (StartSandbox): a VM without a sandbox container,
   * whose containers share the pod namespaces the agent keeps; null for a
   * pod of the Task API alone (its sandbox container holds them).
   */
  private pod: PodEnd | null = null;

  constructor(private readonly o: TaskServiceOptions) {
    this.config = o.config;
    this.configPath = o.configPath;
  }

  /** How the host's namespaces are judged (runtime.host_namespaces of the configuration in use). */
  get hostNamespaces(): 'refuse' | 'vm' {
    return this.config.runtime.hostNamespaces;
  }

  get vmPid(): number {
    return this.sandbox?.pid ?? process.pid;
  }

  implementation(): Partial<ServiceImplementation<TaskDef>> {
    return {
      create: (r) => this.create(r),
      start: (r) => this.start(r.id, r.execId),
      wait: (r) => this.wait(r.id, r.execId),
      state: async (r) => this.state(r.id, r.execId),
      kill: (r) => this.kill(r.id, r.execId, r.signal, r.all),
      exec: (r) => this.exec(r),
      delete: (r) => this.delete(r.id, r.execId),
      pids: (r) => this.pids(r.id),
      pause: (r) => this.pause(r.id),
      resume: (r) => this.resume(r.id),
      closeIO: (r) => this.closeIo(r.id, r.execId, r.stdin),
      resizePty: (r) => this.resize(r.id, r.execId, r.height, r.width),
      update: (r) => this.update(r.id, r.resources),
      stats: (r) => this.stats(r.id),
      connect: async () => ({ shimPid: process.pid, taskPid: this.vmPid, version: '2' }),
      shutdown: async () => this.shutdown(),
    };
  }

  // ---- lifecycle ----------------------------------------------------------

  private async create(r: taskWire.CreateTaskRequest): Promise<taskWire.CreateTaskResponse> {
    if (this.containers.has(r.id)) throw new MayuError('ERR_ALREADY_EXISTS', `task ${r.id} already exists`);
    // Bad stdio is refused before a VM is booted for it.
    for (const [field, value] of [
      ['stdin', r.stdin],
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ] as const)
      parseStdio(field, value);
    this.takeConfig(r.options);
    const given = readSpec(r.bundle);
    const isSandbox = podRoleOf(given.annotations).kind !== 'member';
    // The host's namespaces, however the engine named them, are refused (or the VM's): nothing of the host is wired or joined.
    const raw = resolveHostNamespaces(given, this.config.runtime.hostNamespaces, {
      podTaskPid: isSandbox ? undefined : this.vmPid,
      onAccepted: (ask) => this.o.log.warn({ id: r.id, ...ask }, 'the host\'s namespace asked for: the container gets the VM\'s (runtime.host_namespaces = "vm")'),
    });
    // A spec the guest cannot honour is refused before a VM is booted for it.
    Sandbox.checkContainerSpec(this.config, raw, { bundle: r.bundle, terminal: r.terminal });
    // A pod's container whose limits no VM may have (beyond max_vcpus / max_memory) is refused, naming them; the sandbox's are judged at boot.
    if (!isSandbox) vmSizeFromSpec(raw, this.config.sandbox);
    const shared = isSandbox ? [] : podSharedNamespaces(raw);
    const spec = this.pod && !isSandbox ? withPodShares(raw, this.pod.shares) : raw;
    const rootfs = rootfsOf(raw, r.bundle);
    let mounted = false;
    try {
      if (r.rootfs.length > 0) {
        await mountRootfs(r.rootfs, rootfs);
        mounted = true;
      }
      const sandbox = await this.vm(raw, isSandbox);
      await sandbox.createContainer({
        id: r.id,
        spec,
        bundle: r.bundle,
        rootfs: 'own',
        stdio: { terminal: r.terminal, stdin: r.stdin !== '' },
        shareNamespaces: shared.length > 0 ? { containerId: this.pod ? '' : this.o.groupId, types: shared } : undefined,
      });
      // The VM grew for the container's limits (Sandbox.createContainer): the host's bound follows.
      this.boundPodHost(sandbox);
      const io = new ShimIo({ stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, { id: r.id, namespace: this.o.namespace });
      const init = new TaskProcess(r.id, '', io, this.vmPid);
      this.containers.set(r.id, { id: r.id, bundle: r.bundle, rootfs, rootfsMounted: mounted, init, execs: new Map() });
      await io.attach(sandbox.agent, init.ref);
    } catch (err) {
      if (this.containers.has(r.id)) await this.sandbox?.removeContainer(r.id).catch(() => {});
      this.containers.delete(r.id);
      if (mounted) await unmountRootfs(rootfs);
      throw err;
    }
    void this.o.events.publish('/tasks/create', typeOf('TaskCreate', eventsWire.TaskCreate), {
      containerId: r.id,
      bundle: r.bundle,
      rootfs: r.rootfs,
      io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      checkpoint: '',
      pid: this.vmPid,
    });
    this.o.log.info({ event: 'task.created', id: r.id, sandbox: isSandbox }, 'task created');
    return { pid: this.vmPid };
  }

  /**
   * The configuration a Create's runtime options name (cri-o's
   * runtime_config_path comes only this way; containerd's ConfigPath also
   * reached `start`): taken while no VM runs; once one does, its pod's
   * containers must name the same file.
   */
  private takeConfig(options: anyWire.Any | undefined): void {
    const path = configPathFromAny(options);
    if (!path || path === this.configPath) return;
    if (this.sandbox || this.booting || this.containers.size > 0)
      throw new MayuError('ERR_INVALID_ARGUMENT', `runtime options: ConfigPath ${path} is not the configuration this pod's VM runs with (${this.configPath ?? 'the default'})`);
    this.config = shimConfig(path);
    this.configPath = path;
    for (const w of this.config.warnings) this.o.log.warn({ event: 'config.deprecated', configPath: path }, w);
    this.o.log.info({ configPath: path }, "configuration from the task's runtime options");
  }

  /**
   * The pod's VM: booted by the sandbox's Create (or a standalone task's),
   * reused by its containers. A boot that fails leaves nothing behind and
   * no remembered failure: the next Create boots afresh.
   */
  private async vm(spec: unknown, isSandbox: boolean): Promise<Sandbox> {
    if (this.sandbox) return this.sandbox;
    if (!isSandbox && !this.booting) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.o.groupId} has no VM: create the sandbox first`);
    if (!this.booting) {
      const booting = this.boot(spec);
      this.booting = booting;
      booting.catch(() => {
        if (this.booting === booting) this.booting = null;
      });
    }
    return this.booting;
  }

  private async boot(spec: unknown): Promise<Sandbox> {
    const create = this.o.createSandbox ?? ((o: SandboxOptions) => Sandbox.create(o));
    const netns = podNetns(spec);
    const cgroupsPath = podCgroupsPath(spec);
    const hostname = this.pod ? (spec as { hostname?: unknown }).hostname : undefined;
    const sandbox = create({
      id: this.o.groupId,
      config: this.config,
      log: this.o.vmLog,
      // A Sandbox-API pod's hostname is its UTS namespace's, which the agent keeps for it (a sandbox container's spec sets its own).
      ...(typeof hostname === 'string' && hostname !== '' ? { hostname } : {}),
      ...vmSizeFromSpec(spec, this.config.sandbox),
      growMemory: mayGrowMemory(spec),
      // CNI has run in the pod's network namespace (containerd 1.6 runs it before the sandbox task): it becomes the VM's.
      ...(netns ? { network: { netns, portForward: true } } : {}),
    });
    // The VM is the pod's: this server (and so QEMU and its helpers, started after) goes into the pod's host cgroup, where kubelet counts it.
    const placement = cgroupsPath ? joinPodCgroup(cgroupsPath, (cgroup, err) => this.o.log.warn({ err, cgroup }, "cannot join the pod's cgroup: the VM is not counted there")) : null;
    try {
      // For `delete`, should this server die: there is a VM to clean up, and where.
      writeFileSync(join(this.o.bundle, SANDBOX_MARKER), JSON.stringify({ configPath: this.configPath ?? '', cgroups: placement?.made ?? [] }));
      await sandbox.start();
    } catch (err) {
      placement?.leave();
      rmSync(join(this.o.bundle, SANDBOX_MARKER), { force: true });
      throw err;
    }
    this.placement = placement;
    this.sandbox = sandbox;
    this.podLimited = podHasMemoryLimit(spec);
    this.boundPodHost(sandbox);
    this.watchVm(sandbox);
    return sandbox;
  }

  private async start(id: string, execId: string): Promise<taskWire.StartResponse> {
    const c = this.container(id);
    const p = this.process(c, execId);
    if (p.status !== 'created') throw new MayuError('ERR_INVALID_STATE', `${p.name} is ${p.status}, not created`);
    const agent = this.requireSandbox().agent;
    if (execId === '') {
      await agent.startContainer(id);
      p.status = 'running';
      this.o.log.info({ event: 'task.started', id }, 'task started');
      void this.o.events.publish('/tasks/start', typeOf('TaskStart', eventsWire.TaskStart), { containerId: id, pid: p.pid });
    } else {
      await agent.execProcess({ containerId: id, execId, process: p.spec, stdio: { terminal: p.io.paths.terminal, stdin: p.io.paths.stdin !== '' } });
      await p.io.attach(agent, p.ref);
      p.status = 'running';
      void this.o.events.publish('/tasks/exec-started', typeOf('TaskExecStarted', eventsWire.TaskExecStarted), { containerId: id, execId, pid: p.pid });
    }
    void this.watchExit(c, p);
    return { pid: p.pid };
  }

  private async watchExit(c: TaskContainer, p: TaskProcess): Promise<void> {
    let exit: ExitStatus;
    try {
      exit = await this.requireSandbox().agent.waitProcess(p.ref);
    } catch (err) {
      if (p.exit) return;
      this.o.log.warn({ err, id: c.id, execId: p.ref.execId }, 'lost the process; reporting it as killed');
      exit = { exitStatus: 255, signal: 0, exitedAtMs: 0 };
    }
    // Everything the process wrote reaches containerd before its exit does.
    await Promise.race([p.io.done, new Promise((r) => setTimeout(r, 2000))]);
    this.recordExit(c, p, exit.exitStatus);
  }

  private recordExit(c: TaskContainer, p: TaskProcess, status: number): void {
    if (p.exit) return;
    const exit = p.markExited(status);
    this.o.log.info({ event: 'task.exited', id: c.id, execId: p.ref.execId, exitStatus: status }, 'process exited');
    void this.o.events.publish('/tasks/exit', typeOf('TaskExit', eventsWire.TaskExit), {
      containerId: c.id,
      id: p.ref.execId || c.id,
      pid: p.pid,
      exitStatus: status,
      exitedAt: timestamp(exit.at),
    });
  }

  private async wait(id: string, execId: string): Promise<taskWire.WaitResponse> {
    const p = this.process(this.container(id), execId);
    const exit = await p.exited;
    return { exitStatus: exit.status, exitedAt: timestamp(exit.at) };
  }

  private state(id: string, execId: string): taskWire.StateResponse {
    const c = this.container(id);
    const p = this.process(c, execId);
    return {
      id,
      bundle: c.bundle,
      pid: p.pid,
      status: STATUS_OF[p.status],
      stdin: p.io.paths.stdin,
      stdout: p.io.paths.stdout,
      stderr: p.io.paths.stderr,
      terminal: p.io.paths.terminal,
      exitStatus: p.exit?.status ?? 0,
      exitedAt: p.exit ? timestamp(p.exit.at) : undefined,
      execId,
    };
  }

  private async kill(id: string, execId: string, signal: number, all: boolean): Promise<Record<string, never>> {
    const c = this.container(id);
    const p = this.process(c, execId);
    if (p.exit || p.status === 'created') {
      if (p.status === 'created' && execId === '') {
        // Never started: its process waits in the guest; removing it is the kill.
        await this.requireSandbox().removeContainer(id, 1000);
        this.recordExit(c, p, 128 + signal);
        return {};
      }
      throw notFound(`process ${p.name} (already finished)`);
    }
    await this.requireSandbox().agent.signalProcess(p.ref, signal, all);
    return {};
  }

  private async exec(r: taskWire.ExecProcessRequest): Promise<Record<string, never>> {
    const c = this.container(r.id);
    if (c.execs.has(r.execId)) throw new MayuError('ERR_ALREADY_EXISTS', `exec ${r.execId} already exists in task ${r.id}`);
    if (c.init.status !== 'running') throw new MayuError('ERR_INVALID_STATE', `task ${r.id} is ${c.init.status}, not running`);
    let spec: unknown;
    try {
      spec = JSON.parse(Buffer.from(r.spec?.value ?? []).toString('utf8'));
    } catch (err) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `exec ${r.execId}: spec: not a JSON OCI process (${(err as Error).message})`);
    }
    const io = new ShimIo({ stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, { id: r.id, namespace: this.o.namespace });
    const p = new TaskProcess(r.id, r.execId, io, this.vmPid);
    p.spec = { ...(spec as object), terminal: r.terminal };
    c.execs.set(r.execId, p);
    void this.o.events.publish('/tasks/exec-added', typeOf('TaskExecAdded', eventsWire.TaskExecAdded), { containerId: r.id, execId: r.execId });
    return {};
  }

  private async delete(id: string, execId: string): Promise<taskWire.DeleteResponse> {
    const c = this.container(id);
    const p = this.process(c, execId);
    if (p.status === 'running' || p.status === 'paused') throw new MayuError('ERR_INVALID_STATE', `${p.name} is ${p.status}: kill it first`);
    const exit = p.exit ?? { status: 0, at: new Date() };
    if (execId) {
      p.io.close();
      c.execs.delete(execId);
    } else {
      for (const e of c.execs.values()) e.io.close();
      await this.sandbox?.removeContainer(id, 1000).catch((err: unknown) => this.o.log.warn({ err, id }, 'removing the container from the guest failed'));
      p.io.close();
      if (c.rootfsMounted) await unmountRootfs(c.rootfs);
      this.containers.delete(id);
      void this.o.events.publish('/tasks/delete', typeOf('TaskDelete', eventsWire.TaskDelete), { containerId: id, pid: p.pid, exitStatus: exit.status, exitedAt: timestamp(exit.at), id });
    }
    return { pid: p.pid, exitStatus: exit.status, exitedAt: timestamp(exit.at) };
  }

  private async shutdown(): Promise<Record<string, never>> {
    // A Sandbox-API pod ends by ShutdownSandbox, not by its last container's Shutdown.
    if (this.containers.size > 0 || (this.pod && !this.pod.exit)) return {};
    this.end();
    return {};
  }

  // ---- the Sandbox API's pod (SandboxService) ------------------------------

  /** StartSandbox: boots the pod's VM from the spec-shaped description CreateSandbox made; the VM's pid. */
  async startPod(spec: unknown, shares: PodShares): Promise<number> {
    if (this.pod?.exit) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.o.groupId} has stopped`);
    this.pod ??= new PodEnd(shares);
    await this.vm(spec, true);
    return this.vmPid;
  }

  /** StopSandbox: the pod's VM powered off (what still runs in it is killed with it) and out of the pod's host cgroup; the server stays for the containers' Delete and ShutdownSandbox. */
  async stopPod(timeoutSecs: number): Promise<void> {
    const pod = this.pod;
    if (!pod) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.o.groupId} was not started through the Sandbox API`);
    if (pod.exit) return;
    this.o.log.info({ event: 'sandbox.stopping', timeoutSecs, containers: [...this.containers.keys()] }, 'stopping the pod (Sandbox API)');
    this.oomWatcher?.stop();
    const sandbox = this.sandbox;
    this.stoppingPod = true;
    try {
      await sandbox?.stop();
    } finally {
      this.stoppingPod = false;
    }
    this.exitStarted(128 + 9);
    this.leavePodHost();
    pod.end(0);
  }

  /** WaitSandbox: resolves when the pod has stopped (StopSandbox, or its VM died). */
  podExited(): Promise<PodExit> {
    if (!this.pod) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.o.groupId} was not started through the Sandbox API`);
    return this.pod.exited;
  }

  /** SandboxStatus: the VM's pid, whether the pod runs, how many containers it has, and its end. */
  podState(): { pid: number; running: boolean; containers: number; exit: PodExit | null } {
    return { pid: this.sandbox ? this.vmPid : 0, running: this.sandbox !== null && this.pod !== null && !this.pod.exit, containers: this.containers.size, exit: this.pod?.exit ?? null };
  }

  /** SandboxMetrics: the pod's host cgroup's, where its VM is counted (none when it has none). */
  podMetrics(): HostCgroupMetrics | null {
    return this.placement ? hostCgroupMetrics(this.placement.dirs) : null;
  }

  /** Ends the server once (Shutdown with nothing left, or ShutdownSandbox whatever is left): the VM off, then onShutdown. */
  end(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    setImmediate(() => void this.close().finally(() => this.o.onShutdown()));
  }

  /** Powers the VM off and flushes events (Shutdown, or the server stopping). */
  async close(): Promise<void> {
    this.shuttingDown = true;
    this.oomWatcher?.stop();
    for (const c of this.containers.values()) {
      for (const p of [c.init, ...c.execs.values()]) p.io.close();
      if (c.rootfsMounted) await unmountRootfs(c.rootfs);
    }
    this.containers.clear();
    await this.sandbox?.stop().catch((err: unknown) => this.o.log.warn({ err }, 'stopping the VM failed'));
    this.leavePodHost();
    await this.o.events.flush();
  }

  /** The VM is gone: this server out of the pod's host cgroup (what it made removed), and no marker left for `delete`. */
  private leavePodHost(): void {
    this.placement?.leave();
    this.placement = null;
    rmSync(join(this.o.bundle, SANDBOX_MARKER), { force: true });
  }

  /** Every started process of the pod has ended with `status` (its VM is gone). */
  private exitStarted(status: number): void {
    for (const c of this.containers.values()) for (const p of [c.init, ...c.execs.values()]) if (p.status !== 'created') this.recordExit(c, p, status);
  }

  // ---- the rest of the API ------------------------------------------------

  /**
   * The container's processes in the guest; none (it has exited, or the VM
   * is gone): the task's own pid, the VM's, as Kata answers. containerd 1.7
   * and 2.x, restarting, take a shim whose task lists no process for one
   * leaked before its task was made, and remove it — a task stopped while
   * containerd was down would be lost with its exit status.
   */
  private async pids(id: string): Promise<taskWire.PidsResponse> {
    const c = this.container(id);
    const processes = c.init.exit
      ? []
      : await this.requireSandbox()
          .agent.listProcesses(id)
          .catch(() => []);
    const pids = processes.length > 0 ? processes.map((p) => p.pid) : [c.init.pid];
    return { processes: pids.map((pid) => ({ pid, info: undefined })) };
  }

  private async pause(id: string): Promise<Record<string, never>> {
    const c = this.container(id);
    await this.requireSandbox().agent.pauseContainer(id);
    c.init.status = 'paused';
    void this.o.events.publish('/tasks/paused', typeOf('TaskPaused', eventsWire.TaskPaused), { containerId: id });
    return {};
  }

  private async resume(id: string): Promise<Record<string, never>> {
    const c = this.container(id);
    await this.requireSandbox().agent.resumeContainer(id);
    c.init.status = 'running';
    void this.o.events.publish('/tasks/resumed', typeOf('TaskResumed', eventsWire.TaskResumed), { containerId: id });
    return {};
  }

  private async closeIo(id: string, execId: string, stdin: boolean): Promise<Record<string, never>> {
    const p = this.process(this.container(id), execId);
    // A FIFO's reader closes the process's stdin once it has read everything.
    if (stdin && !p.exit && !p.io.closeStdin())
      await this.requireSandbox()
        .agent.closeStdin(p.ref)
        .catch(() => {});
    return {};
  }

  private async resize(id: string, execId: string, rows: number, columns: number): Promise<Record<string, never>> {
    const p = this.process(this.container(id), execId);
    if (!p.exit) await this.requireSandbox().agent.resizeTty(p.ref, rows, columns);
    return {};
  }

  private async update(id: string, resources: anyWire.Any | undefined): Promise<Record<string, never>> {
    this.container(id);
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(resources?.value ?? []).toString('utf8') || '{}');
    } catch (err) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `update ${id}: resources: not JSON LinuxResources (${(err as Error).message})`);
    }
    // A limit no VM may have (beyond max_vcpus / max_memory) is refused, naming it, as at create.
    vmSizeFromSpec({ linux: { resources: parsed } }, this.config.sandbox);
    const sandbox = this.requireSandbox();
    // The VM grows first when the new limits need it (a smaller one leaves it as it is).
    await sandbox.updateContainer(id, parsed);
    this.boundPodHost(sandbox);
    return {};
  }

  private async stats(id: string): Promise<taskWire.StatsResponse> {
    this.container(id);
    const s = await this.requireSandbox().agent.stats(id);
    return { stats: anyWire.Any.fromPartial({ typeUrl: 'io.containerd.cgroups.v2.Metrics', value: Buffer.from(cgroupsV2Wire.Metrics.encode(metricsOf(s)).finish()) }) };
  }

  // ---- helpers --------------------------------------------------------------

  /**
   * A pod with a memory limit has its host cgroup bounded at its VM's
   * memory plus what its VMM may take beyond it (vmmMemoryBoundMib), raised
   * as the VM grows: a VMM that leaks, or a QEMU escape, is OOM-killed in
   * the pod's cgroup before it can take the node's memory. kubelet's own
   * pod limit (the containers' limits plus the RuntimeClass overhead) sits
   * above it, on the pod's parent cgroup.
   */
  private boundPodHost(sandbox: Sandbox): void {
    if (!this.placement || !(this.podLimited || sandbox.containersLimitMemory)) return;
    const tcgTbMib = sandbox.accel.accel === 'tcg' ? this.config.hypervisor.qemu.tcgTbSizeMib || 1024 : 0;
    const mib = vmmMemoryBoundMib(sandbox.vmSize.memoryMib, tcgTbMib);
    const written = limitCgroupMemory(this.placement.dirs, mib * 1048576, (file, err) => this.o.log.warn({ err, file }, "cannot bound the pod's host cgroup"));
    this.o.log.info({ event: 'pod.host_bound', memoryMib: mib, files: written }, "the pod's host cgroup bounds its VM");
  }

  private watchVm(sandbox: Sandbox): void {
    void sandbox.exited().then((exit) => {
      this.oomWatcher?.stop();
      if (this.shuttingDown || this.stoppingPod) return;
      const reason = sandbox.exitReason(exit);
      this.o.log.error({ event: 'vm.died', sandboxId: sandbox.id, containerIds: [...this.containers.keys()], reason }, `the VM exited: every process of the pod is gone (${reason})`);
      this.exitStarted(255);
      this.pod?.end(255);
    });
    this.oomWatcher = new OomWatcher(
      sandbox.agent,
      (id) => this.containers.has(id),
      (id) => {
        this.o.log.warn(
          { event: 'container.oom', sandboxId: sandbox.id, containerId: id, reason: 'the kernel OOM killer killed a process of the container (its memory limit, or the guest ran out)' },
          'container OOM',
        );
        void this.o.events.publish('/tasks/oom', typeOf('TaskOOM', eventsWire.TaskOOM), { containerId: id });
      },
      this.o.log.child({ subsystem: 'oom' }),
    );
    void this.oomWatcher.run();
  }

  private requireSandbox(): Sandbox {
    if (!this.sandbox) throw new MayuError('ERR_INVALID_STATE', `sandbox ${this.o.groupId} has no VM`);
    return this.sandbox;
  }

  private container(id: string): TaskContainer {
    const c = this.containers.get(id);
    if (!c) throw notFound(`task ${id}`);
    return c;
  }

  private process(c: TaskContainer, execId: string): TaskProcess {
    const p = execId ? c.execs.get(execId) : c.init;
    if (!p) throw notFound(`exec ${execId} of task ${c.id}`);
    return p;
  }
}

export type { ProcessRef };
