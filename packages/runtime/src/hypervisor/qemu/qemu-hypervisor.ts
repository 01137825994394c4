import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, createWriteStream, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_VSOCK_PORT, MayuError } from '@mayu/protocol';
import type { Logger } from 'pino';
import type { QemuConfig } from '../../config/runtime-config.js';
import type { SandboxConfig } from '../../config/runtime-config.js';
import { decideAccel, type AccelDecision } from '../../host/accel.js';
import { hostHasVhostVsock } from '../../host/vhost-vsock.js';
import { vmmRunAs } from '../vmm-user.js';
import { CappedFile } from '../../util/capped-file.js';
import { terminate } from '../../util/process.js';
import { resolveOnPath } from '../../util/on-path.js';
import { settlesWithin } from '../../util/timeout.js';
import type { Hypervisor, HypervisorCapabilities, VmExit, VmSpec, VmStarted } from '../hypervisor.js';
import { templateMac } from '../template-mac.js';
import { HOTPLUG_MEMORY_DEVICE } from './args/memory.js';
import { qemuArgv } from './qemu-argv.js';
import { qemuLaunch } from './qemu-launch.js';
import { Virtiofsd } from './virtiofsd.js';
import { qemuPaths, qemuRuntimeFiles, type QemuPaths } from './qemu-paths.js';
import { QmpClient } from './qmp-client.js';

/** How long QEMU may take to open its QMP socket. */
const QMP_READY_TIMEOUT_MS = 10_000;
/** How long saving or loading a VM's device state may take (tens of KiB: milliseconds). */
const MIGRATION_TIMEOUT_MS = 30_000;
/** The fd a clone's QEMU reads its saved state from (inherited; QMP `migrate-incoming fd:3`). */
const STATE_FD = 3;
/** RAM pages in the shared memory file are not copied into the state (VM templates). */
const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };
/** How long an exit waits for the console's last bytes. */
const CONSOLE_DRAIN_MS = 500;
/** The kernel console log is cut at this size. */
const CONSOLE_LOG_MAX_BYTES = 4 * 1024 * 1024;

export interface QemuHypervisorOptions {
  config: QemuConfig;
  /** The hypervisor-neutral settings it needs (virtiofsd). */
  sandbox: SandboxConfig;
  /** Host TSC kHz for a TCG guest (see host/cpu-info.ts). */
  tscKhz: number | null;
  log: Logger;
  /** Receives the agent's log console stream once the VM is created. */
  onGuestLog?: (stream: Socket) => void;
}

/** QEMU serves files itself over 9p (and must then read and write them as their owners). */
function servesFiles(spec: VmSpec): boolean {
  return (spec.sharedDirs ?? []).some((d) => d.kind === 'virtio-9p');
}

/** The QEMU driver: one instance per VM. */
export class QemuHypervisor implements Hypervisor {
  readonly kind = 'qemu';
  readonly capabilities: HypervisorCapabilities;
  readonly accel: AccelDecision;
  private spec: VmSpec | null = null;
  private paths: QemuPaths | null = null;
  private argv: string[] = [];
  private vsockCid: number | undefined;
  private child: ChildProcess | null = null;
  private exited: Promise<VmExit> | null = null;
  /** The kernel console's socket, copied into the console log while it is open. */
  private consoleSocket: Socket | null = null;
  private exit: VmExit | null = null;
  private qmp: QmpClient | null = null;
  private sockets: Socket[] = [];
  private consoleFile: CappedFile | null = null;
  private virtiofsd: Virtiofsd | null = null;
  /** The unprivileged uid:gid QEMU drops to, or null to stay root (capabilities bounded). */
  private runAs: { uid: number; gid: number } | null = null;

  constructor(private readonly o: QemuHypervisorOptions) {
    const q35 = o.config.machineType === 'q35';
    // microvm cannot give a virtio-mem device a region; "auto" picks q35 for a VM that may grow its memory.
    this.accel = decideAccel(o.config.accel);
    o.log.info({ accel: this.accel.accel, reason: this.accel.reason }, 'acceleration');
    this.capabilities = {
      hotplug: q35,
      grow: { vcpus: true, memory: o.config.machineType !== 'microvm' },
      pause: true,
      snapshot: true,
      sharedFs: ['virtio-9p', 'virtio-fs'],
      mappedAttributes: true,
      agentChannels: hostHasVhostVsock() ? ['vsock', 'serial'] : ['serial'],
      tapNetworking: true,
    };
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  prepare(spec: VmSpec): void {
    this.spec = spec;
    this.paths = qemuPaths(spec.stateDir);
    // A template being built runs no workload and stays root (bounded caps) so that it can hand its state to the host's socket.
    this.runAs = spec.memoryFile?.shared ? null : vmmRunAs(this.o.config.runAs, spec.id, servesFiles(spec));
    if (spec.agentChannel === 'vsock') this.vsockCid = randomInt(3, 0xffffffff);
    this.argv = qemuArgv({
      spec,
      config: this.o.config,
      accel: this.accel.accel,
      tscKhz: this.o.tscKhz,
      paths: this.paths,
      vsockCid: this.vsockCid,
      runAs: this.runAs,
    });
  }

  /**
   * The argv of `spec` with everything per-VM made the same (names, paths,
   * NIC MACs — a clone's guest has the template's until the agent gives it
   * the pod's —, the vsock CID, -runas) and the QEMU binary's version and
   * identity: what a clone must share with its template.
   */
  templateIdentity(spec: VmSpec): string {
    const root = '/mayu-template';
    const canonical: VmSpec = {
      ...spec,
      id: 'template',
      stateDir: root,
      sharedDirs: spec.sharedDirs?.map((d) => ({ ...d, path: `${root}/export/${d.id}` })),
      nics: spec.nics?.map((n, i) => ({ ...n, mac: templateMac(i) })),
      netns: spec.netns ? `${root}/netns` : undefined,
      memoryFile: { path: `${root}/memory`, shared: false },
      incoming: undefined,
      dieWithParent: true,
    };
    const argv = qemuArgv({ spec: canonical, config: this.o.config, accel: this.accel.accel, tscKhz: this.o.tscKhz, paths: qemuPaths(root), vsockCid: 3, runAs: null });
    const resolved = resolveOnPath(this.o.config.path);
    if (!resolved) throw new MayuError('ERR_HOST_CAPABILITY', `${this.o.config.path} is not found on PATH`);
    const binary = statSync(resolved);
    return JSON.stringify({ qemu: resolved, size: binary.size, mtimeMs: binary.mtimeMs, argv });
  }

  agentEndpoint(): string {
    const { spec, paths } = this.planned();
    return spec.agentChannel === 'vsock' ? `vsock://${this.vsockCid}:${AGENT_VSOCK_PORT}` : `serial://${paths.agent}`;
  }

  async start(): Promise<VmStarted> {
    const { paths } = this.planned();
    if (this.child) throw new MayuError('ERR_INVALID_STATE', 'the VM was already started');
    for (const f of qemuRuntimeFiles(paths)) rmSync(f, { force: true });
    const { spec } = this.planned();
    const virtioFs = spec.sharedDirs?.find((d) => d.kind === 'virtio-fs');
    if (virtioFs) {
      this.virtiofsd = await Virtiofsd.start({
        binary: this.o.sandbox.virtioFsDaemon,
        socket: paths.virtiofsd,
        sharedDir: virtioFs.path,
        extraArgs: this.o.sandbox.virtioFsExtraArgs,
        logFile: `${spec.stateDir}/virtiofsd.log`,
      });
    }
    const spawnedAt = performance.now();
    const child = this.spawnQemu(paths);
    try {
      const qmp = await this.connectQmp(paths.qmp);
      this.qmp = qmp;
      qmp.on('SHUTDOWN', (e) => this.o.log.info({ event: 'vm.shutdown', data: e.data }, 'QEMU is shutting down'));
      if (spec.incoming) {
        await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
        await qmp.execute('migrate-incoming', { uri: `fd:${STATE_FD}` });
        await this.migrationDone(qmp, 'restoring the saved state');
      }
      this.consoleFile = new CappedFile(paths.consoleLog, CONSOLE_LOG_MAX_BYTES);
      const consoleSocket = await this.connectSocket(paths.console);
      consoleSocket.on('data', (chunk: Buffer) => this.consoleFile?.write(chunk));
      this.consoleSocket = consoleSocket;
      const logSocket = await this.connectSocket(paths.log);
      this.o.onGuestLog?.(logSocket);
      await qmp.execute('cont');
    } catch (err) {
      await this.destroy();
      await this.virtiofsd?.stop();
      const error = this.startError(err, paths);
      // Ready to be started again (a clone that failed to restore boots cold).
      this.child = null;
      this.exited = null;
      this.exit = null;
      throw error;
    }
    const runningAt = performance.now();
    this.o.log.info({ event: 'vm.started', pid: child.pid, accel: this.accel.accel, restored: !!spec.incoming, spawnMs: runningAt - spawnedAt }, 'VM running');
    return { pid: child.pid ?? -1, spawnedAt, runningAt, restored: !!spec.incoming };
  }

  /**
   * Pauses the VM and writes its device state to `stateFile` (RAM pages of
   * the shared memory file are left out: x-ignore-shared). QEMU streams the
   * state to a socket of ours in the state directory, so that it needs
   * neither to spawn a program (-sandbox spawn=deny) nor to be handed an fd.
   */
  async saveState(stateFile: string): Promise<void> {
    const { spec } = this.planned();
    if (!spec.memoryFile?.shared) throw new MayuError('ERR_INVALID_STATE', 'only a VM whose RAM is a shared memory file can be saved as a template');
    const qmp = this.requireQmp();
    await qmp.execute('stop');
    await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
    const socketPath = join(spec.stateDir, 'migrate.sock');
    rmSync(socketPath, { force: true });
    const server = createServer();
    const received = new Promise<void>((resolve, reject) => {
      server.once('connection', (from: Socket) => {
        const out = createWriteStream(stateFile, { mode: 0o600 });
        from.pipe(out);
        out.once('finish', resolve);
        out.once('error', reject);
        from.once('error', reject);
      });
    });
    received.catch(() => {});
    await new Promise<void>((resolve, reject) => server.listen(socketPath, resolve).once('error', reject));
    try {
      await qmp.execute('migrate', { uri: `unix:${socketPath}` });
      await this.migrationDone(qmp, 'saving the state');
      if (!(await settlesWithin(received, MIGRATION_TIMEOUT_MS))) throw new MayuError('ERR_HYPERVISOR', 'saving the state: the stream did not end');
      await received;
    } finally {
      server.close();
      rmSync(socketPath, { force: true });
    }
    this.o.log.info({ event: 'vm.saved', stateFile }, 'VM state saved');
  }

  /**
   * Sets the virtio-mem device's requested size to what `mib` is beyond the
   * boot memory, then polls its plugged size until the guest has taken that
   * much: a guest that does not (hostile, or out of memory for the new
   * blocks' page structures) is an error after `timeoutMs`, and the VM keeps
   * what it plugged.
   */
  async resizeMemory(mib: number, timeoutMs: number): Promise<void> {
    const { spec } = this.planned();
    const max = spec.maxMemoryMib ?? spec.memoryMib;
    if (!Number.isInteger(mib) || mib < spec.memoryMib || mib > max) throw new MayuError('ERR_INVALID_ARGUMENT', `memory ${mib} MiB: must be an integer from ${spec.memoryMib} to ${max} MiB`);
    if (max === spec.memoryMib) return;
    const qmp = this.requireQmp();
    const path = `/machine/peripheral/${HOTPLUG_MEMORY_DEVICE}`;
    const requested = (mib - spec.memoryMib) * 1048576;
    await qmp.execute('qom-set', { path, property: 'requested-size', value: requested });
    const deadline = performance.now() + timeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      const plugged = await qmp.execute<number>('qom-get', { path, property: 'size' });
      if (plugged === requested) break;
      if (performance.now() > deadline) {
        throw new MayuError('ERR_HYPERVISOR', `the guest took ${plugged / 1048576} of ${requested / 1048576} MiB offered to grow its memory within ${timeoutMs} ms`, {
          details: { requestedBytes: requested, pluggedBytes: plugged },
        });
      }
      await sleep(delay);
    }
    this.o.log.info({ event: 'vm.memory_resized', memoryMib: mib }, 'VM memory resized');
  }

  /** Polls query-migrate until the migration (outgoing, or incoming on a clone) completes; its error otherwise. */
  private async migrationDone(qmp: QmpClient, what: string): Promise<void> {
    const deadline = performance.now() + MIGRATION_TIMEOUT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      const r = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (r.status === 'completed') return;
      if (r.status === 'failed' || r.status === 'cancelled') throw new MayuError('ERR_HYPERVISOR', `${what}: migration ${r.status}: ${r['error-desc'] ?? 'no reason given'}`);
      if (this.exit) throw new MayuError('ERR_HYPERVISOR', `${what}: QEMU exited (code ${String(this.exit.code)})`);
      if (performance.now() > deadline) throw new MayuError('ERR_HYPERVISOR', `${what}: not done within ${MIGRATION_TIMEOUT_MS} ms (status ${r.status ?? 'none'})`);
      await sleep(delay);
    }
  }

  wait(): Promise<VmExit> {
    if (!this.exited) return Promise.reject(new MayuError('ERR_INVALID_STATE', 'the VM was not started'));
    return this.exited;
  }

  /** Asks the guest to power off; after `timeoutMs`, QEMU is told to quit, then killed. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.child || this.exit) return this.closeConnections();
    const exited = this.exited as Promise<VmExit>;
    const within = (ms: number): Promise<boolean> => settlesWithin(exited, ms);
    try {
      await this.qmp?.execute('system_powerdown', undefined, 2000);
      if (await within(timeoutMs)) return this.closeConnections();
      this.o.log.warn({ timeoutMs }, 'guest did not power off; quitting QEMU');
      await this.qmp?.execute('quit', undefined, 2000);
      if (await within(2000)) return this.closeConnections();
    } catch (err) {
      this.o.log.debug({ err }, 'QMP unavailable during stop');
    }
    await this.destroy();
  }

  /** Ends QEMU now: SIGTERM, then SIGKILL after a second. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined && !this.exit) await terminate(child.pid, 1000, this.exited ?? undefined);
    this.closeConnections();
  }

  async pause(): Promise<void> {
    await this.requireQmp().execute('stop');
  }

  async resume(): Promise<void> {
    await this.requireQmp().execute('cont');
  }

  /** Resolves once the console socket has closed (QEMU gone: all it sent is in the log), or after `ms`. */
  private consoleDrained(ms: number): Promise<void> {
    const socket = this.consoleSocket;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  disconnect(): void {
    this.closeConnections();
  }

  /** Removes the sockets and pid file (QEMU must be gone: call stop or destroy first). */
  async cleanup(): Promise<void> {
    if (this.child && !this.exit) await this.destroy();
    this.closeConnections();
    await this.virtiofsd?.stop();
    this.virtiofsd = null;
    if (this.paths) for (const f of qemuRuntimeFiles(this.paths)) rmSync(f, { force: true });
  }

  private planned(): { spec: VmSpec; paths: QemuPaths } {
    if (!this.spec || !this.paths) throw new MayuError('ERR_INVALID_STATE', 'prepare() must be called first');
    return { spec: this.spec, paths: this.paths };
  }

  private requireQmp(): QmpClient {
    if (!this.qmp || this.exit) throw new MayuError('ERR_INVALID_STATE', 'the VM is not running');
    return this.qmp;
  }

  private spawnQemu(paths: QemuPaths): ChildProcess {
    const stderr = openSync(paths.stderr, 'a', 0o640);
    const { spec: planned } = this.planned();
    // A clone reads its saved state from an inherited fd (QMP: migrate-incoming fd:3).
    const state = planned.incoming ? openSync(planned.incoming.stateFile, 'r') : null;
    let child: ChildProcess;
    try {
      // Its own process group, so that a terminal's Ctrl-C reaches the runtime
      // (which stops the VM properly), not QEMU directly.
      const { spec } = this.planned();
      const launch = qemuLaunch({
        binary: this.o.config.path,
        argv: this.argv,
        runAs: this.runAs,
        dieWithParent: spec.dieWithParent,
        servesFiles: servesFiles(spec),
        netns: spec.netns,
      });
      this.o.log.debug({ capabilities: launch.capabilities, runAs: this.runAs }, 'QEMU privileges');
      child = spawn(launch.file, launch.args, { detached: true, stdio: state === null ? ['ignore', 'ignore', stderr] : ['ignore', 'ignore', stderr, state] });
    } finally {
      closeSync(stderr);
      if (state !== null) closeSync(state);
    }
    this.child = child;
    this.exited = new Promise<VmExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        // virtiofsd serves this VM only.
        void this.virtiofsd?.stop();
        this.o.log.info({ event: 'vm.exited', code, signal }, 'QEMU exited');
        // The guest's last words (a panic) reach the console log before anyone hears of the exit.
        const exit = this.exit;
        void this.consoleDrained(CONSOLE_DRAIN_MS).then(() => resolve(exit));
      });
      child.once('error', (err) => {
        this.exit = { code: null, signal: null };
        this.o.log.error({ err }, 'cannot run QEMU');
        resolve(this.exit);
      });
    });
    // The VM must not keep a CLI alive (mayu boot --keep leaves it running).
    child.unref();
    return child;
  }

  /** Connects to QMP once QEMU has created the socket; fails fast if QEMU exits. */
  private async connectQmp(path: string): Promise<QmpClient> {
    const deadline = performance.now() + QMP_READY_TIMEOUT_MS;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      if (this.exit) throw new MayuError('ERR_HYPERVISOR_START', `QEMU exited during start-up (code ${String(this.exit.code)})`);
      try {
        return await QmpClient.connect(path, 5000);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || performance.now() > deadline) throw err;
      }
      await sleep(delay);
    }
  }

  private connectSocket(path: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => {});
        socket.unref();
        this.sockets.push(socket);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  private closeConnections(): void {
    this.qmp?.close();
    this.qmp = null;
    for (const s of this.sockets) s.destroy();
    this.sockets = [];
    this.consoleFile?.close();
    this.consoleFile = null;
  }

  private startError(err: unknown, paths: QemuPaths): MayuError {
    let stderr = '';
    try {
      stderr = readFileSync(paths.stderr, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      // no stderr yet
    }
    const reason = err instanceof Error ? err.message : String(err);
    return new MayuError('ERR_HYPERVISOR_START', `QEMU failed to start: ${stderr || reason}`, {
      cause: err,
      details: { binary: this.o.config.path, stderr },
    });
  }
}
