import type { StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import {
  GUEST_CONTAINERS_DIR,
  GUEST_RUN_DIR,
  invalidArgument,
  MayuError,
  type ContainerStats,
  type CreateContainerOptions,
  type CreateSandboxOptions,
  type ErrorCode,
  type ExecProcessOptions,
  type ExitStatus,
  type NamespaceShare,
  type ProcessListing,
  type ProcessRef,
  type ShareableNamespace,
  type StdioSpec,
  type StorageSpec,
} from '@mayu/protocol';
import type { Logger } from 'pino';
import { uptimeMs } from '../boot/uptime.js';
import { validateProcess, validateSpec } from '../oci/validate-spec.js';
import { guestDevices } from './guest-devices.js';
import { setPodNetSysctls, takePodNetSysctls } from './pod-sysctls.js';
import type { OciSpec } from '../oci/types.js';
import { CGROUP_ROOT, cgroupPids, CONTAINER_CGROUP_PARENT, containerCgroup, readContainerStats } from '../stats/cgroup-stats.js';
import { mountAll, unmountAll } from '../storage/mount-storage.js';
import { MNT_DETACH, sys } from '../system/sys.js';
import { Container, type ContainerState } from './container.js';
import { ContainerProcess } from './container-process.js';
import { Crun, lastLogMessage } from './crun.js';
import type { ExitReports } from './exit-reports.js';
import { ConsoleSocket, pipeIo, StdinPipe, type ProcessIo } from './process-io.js';

/** Bundles live here: /run/mayu/containers/<id>/{config.json, crun.log, init.pid, ...} (the guest ABI's). */
export const CONTAINERS_DIR = GUEST_CONTAINERS_DIR;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** How long RemoveContainer waits for a killed container by default. */
const DEFAULT_REMOVE_TIMEOUT_MS = 10_000;

/** Where storages come from: mounted in the guest, or faked by tests. */
export interface GuestStorage {
  /** Mounts storages in order; returns one undo function per mount (see mount-storage.ts's mountAll). */
  mountAll(storages: readonly StorageSpec[]): (() => void)[];
  /** Whether a guest path exists (a container's root.path, once its storages are mounted). */
  exists(path: string): boolean;
}

/** What the manager reaches outside itself: the guest's own by default, fakes in tests. */
/** Where terminals are handed over (short socket names: see consoleSocketPath). */
export const CONSOLES_DIR = '/run/mayu/consoles';

export interface ContainerManagerOptions {
  /** Where console sockets go (default CONSOLES_DIR). */
  consolesDir?: string;
  /** Where bundles are written (`<dir>/<id>/config.json`, `crun.log`, `*.pid`). Default: CONTAINERS_DIR. */
  containersDir?: string;
  /** The cgroup v2 root under which containers' cgroups are read (stats, processes, OOM events). Default: CGROUP_ROOT. */
  cgroupRoot?: string;
  /** Storage mounts. Default: real mounts through the agent's addon (mount-storage.ts). */
  storage?: GuestStorage;
  /** Sets the sandbox's hostname. Default: sethostname(2) through the agent's addon. */
  sethostname?: (name: string) => void;
  /** Where the pod's own namespaces are pinned (DIR/ipc, DIR/uts). Default: POD_NAMESPACES_DIR. */
  podNamespacesDir?: string;
  /** Makes and pins the pod's IPC and UTS namespaces on DIR/ipc and DIR/uts; returns what unpins them. Default: the agent's addon (pinNamespaces). */
  pinNamespaces?: (dir: string, hostname: string) => () => void;
  /** Starts the process that holds the pod's own PID namespace (its PID 1); returns its pid. Default: the agent's addon (spawnPidNamespaceHolder). */
  spawnPidHolder?: () => number;
}

/** The pod's own namespaces pinned by bind mounts (a pod without a sandbox container shares these, and a PID namespace held by a process). */
const POD_NAMESPACE_TYPES = ['ipc', 'uts'] as const;

/** Pins through the agent's addon; unpinned by lazy unmounts. */
function pinWithAddon(dir: string, hostname: string): () => void {
  sys().pinNamespaces(dir, hostname);
  return () => {
    for (const t of POD_NAMESPACE_TYPES) {
      try {
        sys().umount(join(dir, t), MNT_DETACH);
      } catch {
        // gone already
      }
    }
  };
}

/**
 * The newest runtime-spec the guest's crun (Debian 12's 1.8.1) takes: it
 * refuses any ociVersion from 1.2 on ("unknown version specified") by its
 * string, whatever the spec holds. containerd 1.7.24 and 2.x write 1.2.x.
 */
export const CRUN_NEWEST_OCI_VERSION = '1.1.0';

/**
 * The ociVersion crun is given: the spec's own up to 1.1, else the newest it
 * knows. What the spec holds was checked against the guest's own schema
 * (validateSpec), which knows only fields the guest honours; a field a newer
 * spec adds is refused there, never ignored by crun.
 */
export function crunOciVersion(version: string): string {
  const [major, minor] = version.split('.').map((n) => Number.parseInt(n, 10));
  return major === 1 && (minor ?? 0) <= 1 ? version : CRUN_NEWEST_OCI_VERSION;
}

/** Where the pod's own IPC and UTS namespaces are pinned, for a pod without a sandbox container. */
export const POD_NAMESPACES_DIR = `${GUEST_RUN_DIR}/pod-ns`;

const GUEST_STORAGE: GuestStorage = { mountAll, exists: existsSync };

function checkId(field: string, id: string): void {
  if (!ID_PATTERN.test(id)) throw invalidArgument(field, id, 'must be 1-128 letters, digits, "_", "." or "-", not starting with a symbol');
}

/**
 * Containers of the sandbox: created and driven through the OCI runtime,
 * their processes' stdio held for the host, their exits learned from
 * mayu-init's reports.
 */
export class ContainerManager {
  private readonly containers = new Map<string, Container>();
  private sandboxUnmounts: (() => void)[] = [];
  private readonly oomQueue: string[] = [];
  private readonly oomWaiters: ((id: string) => void)[] = [];
  private readonly containersDir: string;
  private readonly consolesDir: string;
  private readonly cgroupRoot: string;
  private readonly storage: GuestStorage;
  private readonly sethostname: (name: string) => void;
  private readonly podNamespacesDir: string;
  private readonly pinNamespaces: (dir: string, hostname: string) => () => void;
  /** The sandbox's hostname (CreateSandbox): the pod's UTS namespace gets it. */
  private hostname = '';
  /** Unpins the pod's own namespaces, once they are made (on first use). */
  private unpinPodNamespaces: (() => void) | null = null;
  private readonly spawnPidHolder: () => number;
  /** The pid of the process holding the pod's own PID namespace, once made (on first use). */
  private pidHolder: number | null = null;

  constructor(
    private readonly log: Logger,
    private readonly exits: ExitReports,
    private readonly crun = new Crun(),
    options: ContainerManagerOptions = {},
  ) {
    this.containersDir = options.containersDir ?? CONTAINERS_DIR;
    this.consolesDir = options.consolesDir ?? CONSOLES_DIR;
    this.cgroupRoot = options.cgroupRoot ?? CGROUP_ROOT;
    this.storage = options.storage ?? GUEST_STORAGE;
    this.sethostname = options.sethostname ?? ((name) => sys().sethostname(name));
    this.podNamespacesDir = options.podNamespacesDir ?? POD_NAMESPACES_DIR;
    this.pinNamespaces = options.pinNamespaces ?? pinWithAddon;
    this.spawnPidHolder = options.spawnPidHolder ?? (() => sys().spawnPidNamespaceHolder());
  }

  get count(): number {
    return this.containers.size;
  }

  createSandbox(o: CreateSandboxOptions): void {
    if (o.hostname) this.sethostname(o.hostname);
    this.hostname = o.hostname;
    unmountAll(this.sandboxUnmounts);
    this.sandboxUnmounts = this.storage.mountAll(o.storages);
    if (o.dns.length > 0) {
      mkdirSync('/run/mayu', { recursive: true });
      writeFileSync('/run/mayu/resolv.conf', o.dns.map((d) => `nameserver ${d}\n`).join(''));
    }
    this.log.info({ event: 'sandbox.created', sandboxId: o.sandboxId, storages: o.storages.length }, 'sandbox created');
  }

  async destroySandbox(): Promise<void> {
    for (const id of [...this.containers.keys()]) await this.removeContainer(id, 2000);
    unmountAll(this.sandboxUnmounts);
    this.unpinPodNamespaces?.();
    this.unpinPodNamespaces = null;
    if (this.pidHolder !== null) {
      try {
        process.kill(this.pidHolder, 'SIGKILL');
      } catch {
        // gone already
      }
      this.pidHolder = null;
    }
  }

  /**
   * The pod's own IPC and UTS namespaces (the sandbox's hostname in the
   * latter), for a pod that has no sandbox container to share them: made
   * and pinned on first use, like cri-o's pinns does on the host. Its PID
   * namespace (a pod that shares its processes) is held by a process that is
   * PID 1 there and reaps, as the pause container does; also made on first use.
   */
  private podNamespace(type: ShareableNamespace): string {
    if (type === 'pid') {
      if (this.pidHolder === null) {
        this.pidHolder = this.spawnPidHolder();
        this.log.info({ event: 'pod.pid_namespace', holder: this.pidHolder }, "the pod's own PID namespace made");
      }
      return `/proc/${this.pidHolder}/ns/pid`;
    }
    if (!(POD_NAMESPACE_TYPES as readonly string[]).includes(type)) {
      throw invalidArgument('share_namespaces.types', type, 'is not a namespace a pod without a sandbox container keeps (its IPC, UTS and PID namespaces)');
    }
    if (!this.unpinPodNamespaces) {
      mkdirSync(this.podNamespacesDir, { recursive: true, mode: 0o700 });
      for (const t of POD_NAMESPACE_TYPES) writeFileSync(join(this.podNamespacesDir, t), '');
      this.unpinPodNamespaces = this.pinNamespaces(this.podNamespacesDir, this.hostname || 'mayu');
      this.log.info({ event: 'pod.namespaces', dir: this.podNamespacesDir }, "the pod's own IPC and UTS namespaces made");
    }
    return join(this.podNamespacesDir, type);
  }

  /**
   * A container with a user namespace of its own runs as a mapped root that
   * holds no privilege over the guest's directories: crun, already in that
   * namespace, must still look up its rootfs (to make the mount above it
   * private), so each directory on the way from / gets search permission for
   * others — no read, so nothing there is listed. These are the guest's own
   * directories (and the shared tree's, under the sandbox's state), never
   * the host's outside it.
   */
  private openPathForMappedRoot(rootPath: string, id: string): void {
    const opened: string[] = [];
    for (let dir = dirname(rootPath); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o001) !== 0) continue;
      try {
        chmodSync(dir, mode | 0o001);
        opened.push(dir);
      } catch (err) {
        // The shared tree is read-only here: the host made its directories searchable (SharedTree).
        if ((err as NodeJS.ErrnoException).code !== 'EROFS') throw err;
      }
    }
    if (opened.length > 0) this.log.info({ containerId: id, opened }, "directories above a user-namespaced container's rootfs made searchable by its mapped root");
  }

  async createContainer(o: CreateContainerOptions): Promise<void> {
    checkId('container_id', o.containerId);
    if (this.containers.has(o.containerId)) throw new MayuError('ERR_ALREADY_EXISTS', `container ${o.containerId} already exists`);
    const spec = validateSpec(o.spec);
    const bundle = join(this.containersDir, o.containerId);
    mkdirSync(bundle, { recursive: true });
    let unmounts: (() => void)[] = [];
    try {
      unmounts = this.storage.mountAll(o.storages);
      if (!this.storage.exists(spec.root.path)) throw invalidArgument('/root/path', spec.root.path, 'does not exist in the guest');
      if (createsUserNamespace(spec)) this.openPathForMappedRoot(spec.root.path, o.containerId);
      const joined = o.shareNamespaces ? this.joinNamespaces(spec, o.shareNamespaces) : spec;
      const { spec: shared, net } = takePodNetSysctls(joined);
      setPodNetSysctls(net);
      if (net.length > 0) this.log.info({ containerId: o.containerId, sysctls: Object.fromEntries(net) }, "network sysctls set on the VM's namespace (the pod's network)");
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(this.guestSpec(shared, o.containerId, o.stdio)));
      const init = await this.start(o.containerId, bundle, '', ['create', '--bundle', bundle], o.stdio);
      const container = new Container(o.containerId, bundle, init, unmounts, containerCgroup(o.containerId, this.cgroupRoot));
      container.watchOom(() => this.onOom(o.containerId));
      this.containers.set(o.containerId, container);
      // Without a PID namespace of its own, the end of its init ends nothing else: what it left (a pipeline's other
      // processes, its execs) is killed then, as runc's shim does, or it would hold the container's output open forever.
      if (!ownsPidNamespace(shared))
        void init
          .wait()
          .then(() => this.killLeftovers(container))
          .catch(() => {});
      this.log.info({ event: 'container.created', containerId: o.containerId, pid: init.pid }, 'container created');
    } catch (err) {
      await this.crun.run(['delete', '--force', o.containerId]).catch(() => {});
      unmountAll(unmounts);
      rmSync(bundle, { recursive: true, force: true });
      throw err;
    }
  }

  /** Kills every process left in a container's cgroup once its init has ended (if it is still this manager's). */
  private killLeftovers(c: Container): void {
    if (this.containers.get(c.id) !== c) return;
    const left = cgroupPids(c.cgroup);
    if (left.length === 0) return;
    try {
      writeFileSync(join(c.cgroup, 'cgroup.kill'), '1');
    } catch {
      // Kernels before 5.14 have no cgroup.kill: one by one.
      for (const pid of left)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
    }
    this.log.info({ event: 'container.leftovers_killed', containerId: c.id, processes: left.length }, "the container's init ended: the processes it left are killed");
  }

  async startContainer(id: string): Promise<void> {
    const c = this.get(id);
    requireState(c, 'created', 'running');
    await this.crun.must(['start', id], `container ${id}`);
    // Recorded once crun has done it (a quick process may already have ended).
    if (!c.init.exit) c.transition('running');
    this.log.info({ event: 'container.started', containerId: id }, 'container started');
  }

  async removeContainer(id: string, timeoutMs: number): Promise<void> {
    const c = this.get(id);
    if (!c.init.exit) {
      if (c.state === 'paused') await this.crun.run(['resume', id]);
      await this.crun.run(['kill', '--all', id, 'KILL']);
      c.init.signal(9);
      await Promise.race([c.init.wait(), new Promise((r) => setTimeout(r, timeoutMs || DEFAULT_REMOVE_TIMEOUT_MS).unref())]);
    }
    await this.crun.run(['delete', '--force', id]);
    c.stopWatching();
    for (const p of [c.init, ...c.execs.values()]) p.io.close();
    unmountAll(c.unmounts);
    rmSync(c.bundle, { recursive: true, force: true });
    this.containers.delete(id);
    this.log.info({ event: 'container.removed', containerId: id }, 'container removed');
  }

  async execProcess(o: ExecProcessOptions): Promise<void> {
    const c = this.get(o.containerId);
    checkId('exec_id', o.execId);
    if (c.state !== 'running') throw new MayuError('ERR_INVALID_STATE', `container ${o.containerId} is ${c.state}, not running`);
    if (c.execs.has(o.execId)) throw new MayuError('ERR_ALREADY_EXISTS', `exec ${o.execId} already exists in container ${o.containerId}`);
    const proc = validateProcess(o.process);
    const file = join(c.bundle, `exec-${o.execId}.json`);
    writeFileSync(file, JSON.stringify({ ...proc, terminal: o.stdio.terminal }));
    const p = await this.startExec(o.containerId, c.bundle, o.execId, file, o.stdio);
    c.execs.set(o.execId, p);
    this.log.info({ event: 'exec.started', containerId: o.containerId, execId: o.execId, pid: p.pid }, 'exec started');
  }

  async signalProcess(ref: ProcessRef, signal: number, all: boolean): Promise<void> {
    const c = this.get(ref.containerId);
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) throw invalidArgument('signal', signal, 'must be a signal number from 1 to 64');
    if (all) await this.crun.run(['kill', '--all', ref.containerId, String(signal)]);
    else c.process(ref.execId).signal(signal);
  }

  waitProcess(ref: ProcessRef): Promise<ExitStatus> {
    return this.get(ref.containerId).process(ref.execId).wait();
  }

  async writeStdin(ref: ProcessRef, data: Buffer): Promise<number> {
    const stdin = this.stdin(ref);
    await new Promise<void>((resolve, reject) => stdin.write(data, (err) => (err ? reject(err) : resolve())));
    return data.length;
  }

  closeStdin(ref: ProcessRef): void {
    this.stdin(ref).end();
  }

  readOutput(ref: ProcessRef, stream: 'stdout' | 'stderr', len: number): Promise<Buffer> {
    return this.get(ref.containerId).process(ref.execId).io[stream].read(len);
  }

  resize(ref: ProcessRef, rows: number, columns: number): void {
    this.get(ref.containerId).process(ref.execId).io.resize(rows, columns);
  }

  /** Changes a container's resource limits (OCI LinuxResources, as JSON). */
  async update(id: string, resources: unknown): Promise<void> {
    const c = this.get(id);
    if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) throw invalidArgument('resources_json', resources, 'must be a JSON object (OCI LinuxResources)');
    const file = join(c.bundle, 'resources.json');
    writeFileSync(file, JSON.stringify(resources));
    await this.crun.must(['update', '--resources', file, id], `container ${id}`);
  }

  async pause(id: string): Promise<void> {
    const c = this.get(id);
    requireState(c, 'running', 'paused');
    await this.crun.must(['pause', id], `container ${id}`);
    if (!c.init.exit) c.transition('paused');
  }

  async resume(id: string): Promise<void> {
    const c = this.get(id);
    requireState(c, 'paused', 'running');
    await this.crun.must(['resume', id], `container ${id}`);
    if (!c.init.exit) c.transition('running');
  }

  stats(id: string): ContainerStats {
    return readContainerStats(this.get(id).cgroup);
  }

  listProcesses(id: string): ProcessListing[] {
    const c = this.get(id);
    const execOf = new Map([[c.init.pid, ''], ...[...c.execs].map(([execId, p]) => [p.pid, execId] as const)]);
    return cgroupPids(c.cgroup).map((pid) => ({ pid, execId: execOf.get(pid) ?? '', command: commandOf(pid) }));
  }

  /** Long poll: the id of the next container whose process the OOM killer killed. */
  nextOomEvent(): Promise<string> {
    const queued = this.oomQueue.shift();
    return queued !== undefined ? Promise.resolve(queued) : new Promise((resolve) => this.oomWaiters.push(resolve));
  }

  private onOom(id: string): void {
    this.log.warn({ event: 'container.oom', containerId: id }, 'OOM kill in container');
    const waiter = this.oomWaiters.shift();
    if (waiter) waiter(id);
    else this.oomQueue.push(id);
  }

  private get(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw new MayuError('ERR_NOT_FOUND', `container ${id} not found`, { details: { containerId: id } });
    return c;
  }

  private stdin(ref: ProcessRef): NonNullable<ProcessIo['stdin']> {
    const stdin = this.get(ref.containerId).process(ref.execId).io.stdin;
    if (!stdin) throw new MayuError('ERR_INVALID_STATE', `process ${ref.containerId}/${ref.execId || 'init'} was started without stdin`);
    return stdin;
  }

  /**
   * The spec with the shared namespaces pointing at another container's init
   * process (a pod's containers join its sandbox container's ipc, uts and pid
   * namespaces). A joined uts namespace keeps the sandbox's hostname.
   */
  private joinNamespaces(spec: OciSpec, share: NamespaceShare): OciSpec {
    let pathOf: (type: ShareableNamespace) => string;
    if (share.containerId === '') pathOf = (type) => this.podNamespace(type);
    else {
      const owner = this.containers.get(share.containerId);
      if (!owner) throw invalidArgument('share_namespaces.container_id', share.containerId, 'is not a container of this sandbox');
      if (owner.init.exit) throw invalidArgument('share_namespaces.container_id', share.containerId, 'has exited; its namespaces are gone');
      pathOf = (type) => `/proc/${owner.init.pid}/ns/${type}`;
    }
    const joined = new Set<string>(share.types);
    const namespaces = (spec.linux?.namespaces ?? []).filter((ns) => !joined.has(ns.type));
    for (const type of share.types) namespaces.push({ type, path: pathOf(type) });
    const out: OciSpec = { ...spec, linux: { ...spec.linux, namespaces } };
    if (joined.has('uts')) delete out.hostname;
    return out;
  }

  /** The spec crun gets: the container's own cgroup, and a terminal only if the host asked for one. */
  private guestSpec(spec: OciSpec, id: string, stdio: StdioSpec): OciSpec {
    const { devices, rules, dropped } = guestDevices(spec);
    if (dropped.length > 0)
      this.log.info(
        { containerId: id, dropped },
        'requested devices left out: a terminal, console or agent channel, a type other than the guest device at that path, or numbers that would name a guest device (host devices never reach a VM)',
      );
    return {
      ...spec,
      ociVersion: crunOciVersion(spec.ociVersion),
      process: { ...spec.process, terminal: stdio.terminal },
      linux: {
        ...spec.linux,
        cgroupsPath: `/${CONTAINER_CGROUP_PARENT}/${id}`,
        ...(devices.length > 0 || spec.linux?.devices ? { devices } : {}),
        ...(rules ? { resources: { ...spec.linux?.resources, devices: rules } } : {}),
      },
    };
  }

  /**
   * Runs `crun exec` in the foreground: crun stays the process's parent and
   * exits with its status (128 + N for signal N). A detached exec can lose
   * the status: a process that exits before crun does is reaped by crun, not
   * orphaned to init. The PID comes from --pid-file, written once the process
   * exists; without it, crun failed and its log says why.
   */
  private async startExec(id: string, bundle: string, execId: string, processFile: string, stdio: StdioSpec): Promise<ContainerProcess> {
    const tag = `exec-${execId}`;
    const pidFile = join(bundle, `${tag}.pid`);
    const logFile = join(bundle, 'crun.log');
    const console = stdio.terminal ? new ConsoleSocket(consoleSocketPath(this.consolesDir, id, execId)) : null;
    const stdin = !console && stdio.stdin ? new StdinPipe() : null;
    const streams: StdioOptions = console ? 'ignore' : [stdin ? stdin.readFd : 'ignore', 'pipe', 'pipe'];
    try {
      const { child, exited } = this.crun.spawn(['exec', '--process', processFile, '--pid-file', pidFile, ...(console ? ['--console-socket', console.path] : []), id], {
        stdio: streams,
        logFile,
      });
      stdin?.releaseReadEnd();
      // Read the pipes at once: a short process can exit, and crun with it,
      // before the PID file is seen, and Node drains a child's unread output when it exits.
      const pipes = console ? null : pipeIo(child, stdin?.writer ?? null);
      const pid = await waitForPidFile(pidFile, exited);
      if (pid === null) {
        pipes?.close();
        const message = lastLogMessage(logFile) || `crun exec exited ${(await exited).code}`;
        throw new MayuError(startErrorCode(message), `cannot exec in container ${id}: ${message}`, { details: { containerId: id, execId } });
      }
      const io = pipes ?? (await (console as ConsoleSocket).io(5000));
      const exit = exited.then(({ code, signal }) => exitFromCrun(code, signal));
      return new ContainerProcess(execId, pid, io, exit);
    } finally {
      console?.close();
    }
  }

  /** Runs `crun create` and returns the container's init process it left behind (orphaned to mayu-init). */
  private async start(id: string, bundle: string, execId: string, args: string[], stdio: StdioSpec): Promise<ContainerProcess> {
    const tag = execId ? `exec-${execId}` : 'init';
    const pidFile = join(bundle, `${tag}.pid`);
    const console = stdio.terminal ? new ConsoleSocket(consoleSocketPath(this.consolesDir, id, execId)) : null;
    const stdin = !console && stdio.stdin ? new StdinPipe() : null;
    const streams: StdioOptions = console ? 'ignore' : [stdin ? stdin.readFd : 'ignore', 'pipe', 'pipe'];
    try {
      const r = await this.crun.run([...args, '--pid-file', pidFile, ...(console ? ['--console-socket', console.path] : []), id], {
        stdio: streams,
        logFile: join(bundle, 'crun.log'),
      });
      stdin?.releaseReadEnd();
      if (r.code !== 0) {
        stdin?.writer.destroy();
        r.child.stdout?.destroy();
        r.child.stderr?.destroy();
        throw new MayuError(startErrorCode(r.message), `cannot ${execId ? 'exec in' : 'create'} container ${id}: ${r.message || `crun exited ${r.code}`}`, {
          details: { containerId: id, execId },
        });
      }
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      const io = console ? await console.io(5000) : pipeIo(r.child, stdin?.writer ?? null);
      return new ContainerProcess(execId, pid, io, this.exits.waitFor(pid));
    } finally {
      console?.close();
    }
  }
}

/**
 * Where the OCI runtime hands a process's terminal over: a short name of
 * its own (a hash of the container and exec ids) in one directory, so that
 * the socket path fits sun_path (108 bytes) whatever the ids' lengths —
 * containerd's are 64 characters each.
 */
export function consoleSocketPath(dir: string, containerId: string, execId: string): string {
  return join(dir, `${createHash('sha256').update(`${containerId}\0${execId}`).digest('hex').slice(0, 16)}.sock`);
}

/** A move the OCI runtime is about to make is allowed only from `from` (start from created, resume from paused...). */
function requireState(c: Container, from: ContainerState, to: ContainerState): void {
  if (c.state !== from) throw new MayuError('ERR_INVALID_STATE', `container ${c.id}: cannot go from ${c.state} to ${to}`, { details: { from: c.state, to } });
  c.assertCan(to);
}

/**
 * The OCI runtime only says why it could not start a process in words; a
 * missing executable and a permission problem get their own codes (a CLI
 * reports them as exit statuses 127 and 126, as a shell does).
 */
export function startErrorCode(message: string): ErrorCode {
  if (/executable file .* not found|no such file or directory/i.test(message)) return 'ERR_COMMAND_NOT_FOUND';
  if (/permission denied/i.test(message)) return 'ERR_COMMAND_NOT_EXECUTABLE';
  return 'ERR_INVALID_ARGUMENT';
}

/** Whether a spec gives the container a PID namespace of its own (one without a path to join). */
/** Whether the spec makes a user namespace of its own (one with mappings, not joined by path). */
function createsUserNamespace(spec: { linux?: { namespaces?: { type: string; path?: string }[] } }): boolean {
  return (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'user' && !ns.path);
}

function ownsPidNamespace(spec: { linux?: { namespaces?: { type: string; path?: string }[] } }): boolean {
  return (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'pid' && !ns.path);
}

/** The PID crun wrote, or null when crun exited without writing it (it failed). */
async function waitForPidFile(path: string, exited: Promise<unknown>): Promise<number | null> {
  let done = false;
  void exited.then(() => (done = true));
  for (;;) {
    try {
      const text = readFileSync(path, 'utf8').trim();
      if (/^\d+$/.test(text)) return Number(text);
    } catch {
      // not yet
    }
    if (done) {
      // One last look: crun may have written it just before exiting.
      try {
        const text = readFileSync(path, 'utf8').trim();
        return /^\d+$/.test(text) ? Number(text) : null;
      } catch {
        return null;
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** crun exec's own exit: the process's status, 128 + N when signal N killed it. */
export function exitFromCrun(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
  const status = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
  return { exitStatus: status, signal: status > 128 && status <= 128 + 64 ? status - 128 : 0, exitedAtMs: uptimeMs() };
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}
