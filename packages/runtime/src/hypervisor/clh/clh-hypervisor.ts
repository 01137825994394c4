import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadStream } from 'node:tty';
import { AGENT_VSOCK_PORT, isMayuError, MayuError, StateMachine } from '@mayu/protocol';
import type { Logger } from 'pino';
import type { ClhConfig, SandboxConfig } from '../../config/runtime-config.js';
import { gatherKvmFacts, kvmVerdict, type AccelDecision } from '../../host/accel.js';
import { CappedFile } from '../../util/capped-file.js';
import { terminate } from '../../util/process.js';
import { settlesWithin } from '../../util/timeout.js';
import type { Hypervisor, HypervisorCapabilities, VmExit, VmSpec, VmStarted } from '../hypervisor.js';
import { Virtiofsd } from '../qemu/virtiofsd.js';
import { ClhApi } from './clh-api.js';
import { connectSocket, openPty } from './clh-consoles.js';
import { clhArgv, clhLaunch } from './clh-launch.js';
import { clhPaths, clhRuntimeFiles, type ClhPaths } from './clh-paths.js';
import { startError } from './start-error.js';
import { unsupportedVersion, parseClhVersion } from './version.js';
import { vmConfig, type VmConfig } from './vm-config.js';
import { handOverToVmm, planVmmUser, type VmmNeeds, type VmmUser } from './vmm-privileges.js';

/** The kernel console log is cut at this size. */
const CONSOLE_LOG_MAX_BYTES = 4 * 1024 * 1024;
/** How long CH may take to exit after vmm.shutdown. */
const EXIT_GRACE_MS = 2000;

type ClhState = 'new' | 'prepared' | 'starting' | 'running' | 'paused' | 'stopping' | 'exited';
const TRANSITIONS: Readonly<Record<ClhState, readonly ClhState[]>> = {
  new: ['prepared'],
  prepared: ['prepared', 'starting'],
  starting: ['running', 'exited'],
  running: ['paused', 'stopping', 'exited'],
  paused: ['running', 'stopping', 'exited'],
  stopping: ['exited'],
  exited: [],
};

export interface CloudHypervisorOptions {
  config: ClhConfig;
  /** The hypervisor-neutral settings it needs (virtiofsd). */
  sandbox: SandboxConfig;
  log: Logger;
  /** Receives the agent's log console stream (hvc0's pty) once the VM is created. */
  onGuestLog?: (stream: Readable) => void;
  /** Whether KVM can run a guest here, and why. Default: probed on this host. */
  kvm?: { usable: boolean; reason: string };
  /** The KVM device an unprivileged CH must open. Default /dev/kvm. */
  kvmDevice?: string;
}

/**
 * The Cloud Hypervisor driver: one instance per VM. CH is spawned with only
 * its API socket; the VM is created, booted, paused and stopped through the
 * REST API (see clh-api.ts), and the agent is reached over hybrid vsock.
 */
export class CloudHypervisor implements Hypervisor {
  readonly kind = 'clh';
  readonly capabilities: HypervisorCapabilities = {
    hotplug: true,
    grow: { vcpus: false, memory: false },
    pause: true,
    snapshot: false,
    sharedFs: ['virtio-fs'],
    mappedAttributes: false,
    agentChannels: ['vsock'],
    // TODO(networking): virtio-net on a tap (VmConfig.net) is not wired for Cloud Hypervisor yet.
    tapNetworking: false,
  };
  readonly accel: AccelDecision;
  private readonly kvm: { usable: boolean; reason: string };
  private readonly fsm: StateMachine<ClhState>;
  private plan: { spec: VmSpec; paths: ClhPaths; config: VmConfig } | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<VmExit> | null = null;
  private exit: VmExit | null = null;
  private api: ClhApi | null = null;
  private serial: Socket | null = null;
  private pty: ReadStream | null = null;
  private consoleFile: CappedFile | null = null;
  private virtiofsd: Virtiofsd | null = null;

  constructor(private readonly o: CloudHypervisorOptions) {
    this.kvm = o.kvm ?? kvmVerdict(gatherKvmFacts());
    this.accel = { accel: 'kvm', reason: this.kvm.usable ? this.kvm.reason : `Cloud Hypervisor needs KVM: ${this.kvm.reason}` };
    this.fsm = new StateMachine<ClhState>('Cloud Hypervisor VM', 'new', TRANSITIONS, (from, to) => o.log.debug({ from, to }, 'VM state'));
    o.log.info({ accel: this.accel.accel, reason: this.accel.reason }, 'acceleration');
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Checks the spec and builds its VmConfig (ERR_CONFIG_INVALID for what CH cannot do); may be called again until start. */
  prepare(spec: VmSpec): void {
    if (!this.fsm.can('prepared')) throw new MayuError('ERR_INVALID_STATE', `the VM is already ${this.fsm.state}`);
    const paths = clhPaths(spec.stateDir);
    this.plan = { spec, paths, config: vmConfig(spec, paths) };
    this.fsm.transition('prepared');
  }

  agentEndpoint(): string {
    return `hvsock://${this.planned().paths.vsock}:${AGENT_VSOCK_PORT}`;
  }

  async start(): Promise<VmStarted> {
    const { spec, paths, config } = this.planned();
    if (!this.kvm.usable) {
      throw new MayuError('ERR_HOST_CAPABILITY', `Cloud Hypervisor needs KVM: ${this.kvm.reason}`, { details: { reason: this.kvm.reason } });
    }
    this.fsm.transition('starting');
    for (const f of clhRuntimeFiles(paths)) rmSync(f, { force: true });
    mkdirSync(paths.vmmDir, { recursive: true, mode: 0o700 });
    try {
      await this.startVirtiofsd(spec, paths);
      const user = this.settleUser(spec, paths);
      const spawnedAt = performance.now();
      const child = this.spawnClh(spec, paths, user);
      const api = await this.waitForApi(new ClhApi(paths.api, this.o.config.apiTimeoutMs));
      this.api = api;
      await api.create(config);
      await this.attachConsoles(api, paths);
      await api.put('vm.boot');
      const { state } = await api.info();
      if (state !== 'Running') throw new MayuError('ERR_HYPERVISOR_START', `Cloud Hypervisor reports the VM ${state} after vm.boot`);
      this.fsm.transition('running');
      const runningAt = performance.now();
      this.o.log.info({ event: 'vm.started', pid: child.pid, spawnMs: runningAt - spawnedAt }, 'VM running');
      return { pid: child.pid ?? -1, spawnedAt, runningAt };
    } catch (err) {
      throw await this.failStart(err, paths);
    }
  }

  wait(): Promise<VmExit> {
    if (!this.exited) return Promise.reject(new MayuError('ERR_INVALID_STATE', 'the VM was not started'));
    return this.exited;
  }

  /**
   * Presses the ACPI power button and gives the guest `timeoutMs` to power
   * off (CH then exits); then tears the VM down (vm.shutdown), tells CH to
   * exit (vmm.shutdown), and at last kills it.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.child || this.exit) return this.closeConnections();
    if (this.fsm.can('stopping')) this.fsm.transition('stopping');
    const exited = this.exited as Promise<VmExit>;
    const api = this.api;
    if (api) {
      const quick = Math.min(this.o.config.apiTimeoutMs, 2000);
      const started = performance.now();
      // A paused VM cannot take the button press (500): it is shut down at once.
      const pressed = await api.put('vm.power-button', quick).then(
        () => true,
        (err: unknown) => (this.o.log.debug({ err }, 'vm.power-button refused'), false),
      );
      if (pressed && (await settlesWithin(exited, Math.max(0, timeoutMs - (performance.now() - started))))) return this.closeConnections();
      if (pressed) this.o.log.warn({ timeoutMs }, 'guest did not power off; shutting the VM down');
      for (const endpoint of ['vm.shutdown', 'vmm.shutdown'] as const) {
        await api.put(endpoint, quick).catch((err: unknown) => this.o.log.debug({ err }, `${endpoint} failed`));
      }
      if (await settlesWithin(exited, EXIT_GRACE_MS)) return this.closeConnections();
    }
    await this.destroy();
  }

  /** Ends CH now: SIGTERM, then SIGKILL after a second. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined && !this.exit) await terminate(child.pid, 1000, this.exited ?? undefined);
    this.closeConnections();
  }

  async pause(): Promise<void> {
    await this.change('paused', 'vm.pause');
  }

  async resume(): Promise<void> {
    await this.change('running', 'vm.resume');
  }

  disconnect(): void {
    this.closeConnections();
  }

  /** Removes the sockets (CH must be gone: call stop or destroy first; it is killed if not). */
  async cleanup(): Promise<void> {
    if (this.child && !this.exit) await this.destroy();
    this.closeConnections();
    await this.virtiofsd?.stop();
    this.virtiofsd = null;
    if (this.plan) for (const f of clhRuntimeFiles(this.plan.paths)) rmSync(f, { force: true });
  }

  private planned(): { spec: VmSpec; paths: ClhPaths; config: VmConfig } {
    if (!this.plan) throw new MayuError('ERR_INVALID_STATE', 'prepare() must be called first');
    return this.plan;
  }

  private async change(to: 'paused' | 'running', endpoint: 'vm.pause' | 'vm.resume'): Promise<void> {
    if (!this.api || this.exit || !this.fsm.can(to)) {
      throw new MayuError('ERR_INVALID_STATE', `Cloud Hypervisor VM: cannot go from ${this.fsm.state} to ${to}`, { details: { from: this.fsm.state, to } });
    }
    await this.api.put(endpoint);
    if (this.fsm.can(to)) this.fsm.transition(to);
  }

  private async startVirtiofsd(spec: VmSpec, paths: ClhPaths): Promise<void> {
    const share = spec.sharedDirs?.[0];
    if (!share) return;
    if (!this.o.sandbox.virtioFsDaemon) {
      throw new MayuError('ERR_CONFIG_INVALID', 'sandbox.virtio_fs_daemon: Cloud Hypervisor shares directories over virtio-fs, which needs virtiofsd', {
        details: { key: 'sandbox.virtio_fs_daemon' },
      });
    }
    this.virtiofsd = await Virtiofsd.start({
      binary: this.o.sandbox.virtioFsDaemon,
      socket: paths.virtiofsd,
      sharedDir: share.path,
      extraArgs: this.o.sandbox.virtioFsExtraArgs,
      logFile: paths.virtiofsdLog,
    });
  }

  /** Who CH runs as (see vmm-privileges.ts), with what it needs handed over. */
  private settleUser(spec: VmSpec, paths: ClhPaths): VmmUser | null {
    const disks = spec.disks ?? [];
    const needs: VmmNeeds = {
      stateDir: spec.stateDir,
      vmmDir: paths.vmmDir,
      reads: [spec.kernel, spec.rootfs.path, ...disks.filter((d) => d.readOnly).map((d) => d.path)],
      writes: disks.filter((d) => !d.readOnly).map((d) => d.path),
      connects: spec.sharedDirs?.length ? [paths.virtiofsd] : [],
      kvm: this.o.kvmDevice ?? '/dev/kvm',
    };
    const plan = planVmmUser({ runAs: this.o.config.runAs, sandboxId: spec.id, needs });
    if (plan.user) handOverToVmm(plan.user, needs);
    if (plan.user && plan.problems.length > 0) this.o.log.warn({ problems: plan.problems }, `Cloud Hypervisor runs as ${plan.reason} but may not reach what it needs`);
    this.o.log.info({ user: plan.user, reason: plan.reason }, 'Cloud Hypervisor privileges');
    return plan.user;
  }

  private spawnClh(spec: VmSpec, paths: ClhPaths, user: VmmUser | null): ChildProcess {
    const launch = clhLaunch({
      binary: this.o.config.path,
      argv: clhArgv({ paths, seccomp: this.o.config.seccomp, debug: spec.debug }),
      user,
      dieWithParent: spec.dieWithParent,
    });
    const stderr = openSync(paths.stderr, 'a', 0o640);
    let child: ChildProcess;
    try {
      // Its own process group, so that a terminal's Ctrl-C reaches the runtime
      // (which stops the VM properly), not CH directly.
      child = spawn(launch.file, launch.args, { detached: true, stdio: ['ignore', 'ignore', stderr] });
    } finally {
      closeSync(stderr);
    }
    this.child = child;
    this.exited = new Promise<VmExit>((resolve) => {
      const done = (exit: VmExit): void => {
        if (this.exit) return;
        this.exit = exit;
        if (this.fsm.can('exited')) this.fsm.transition('exited');
        // virtiofsd serves this VM only.
        void this.virtiofsd?.stop();
        resolve(exit);
      };
      child.once('exit', (code, signal) => {
        this.o.log.info({ event: 'vm.exited', code, signal }, 'Cloud Hypervisor exited');
        done({ code, signal });
      });
      child.once('error', (err) => {
        this.o.log.error({ err }, 'cannot run Cloud Hypervisor');
        done({ code: null, signal: null });
      });
    });
    // The VM must not keep a CLI alive (mayu boot --keep leaves it running).
    child.unref();
    return child;
  }

  /** Polls vmm.ping until CH answers (within api_timeout), fails fast if CH exits; checks its version. */
  private async waitForApi(api: ClhApi): Promise<ClhApi> {
    const timeoutMs = this.o.config.apiTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (this.exit) throw new MayuError('ERR_HYPERVISOR_START', 'Cloud Hypervisor exited before its API socket answered');
      const left = deadline - performance.now();
      try {
        const ping = await api.ping(Math.max(1, Math.min(left, 1000)));
        const version = parseClhVersion(ping.version ?? '');
        const unsupported = version && unsupportedVersion(version);
        if (unsupported) throw new MayuError('ERR_HOST_CAPABILITY', unsupported, { details: { version: ping.version } });
        this.o.log.info({ version: ping.version, features: ping.features }, 'Cloud Hypervisor API ready');
        return api;
      } catch (err) {
        if (isMayuError(err, 'ERR_HOST_CAPABILITY')) throw err;
        if (performance.now() + delay >= deadline) {
          throw new MayuError('ERR_HYPERVISOR_START', `Cloud Hypervisor's API socket ${api.socketPath} did not answer within ${timeoutMs} ms (hypervisor.clh.api_timeout)`, { cause: err });
        }
      }
      await sleep(delay);
    }
  }

  /**
   * The consoles exist once the VM is created: the virtio console's pty
   * (agent logs, to the guest log relay) and the serial socket (kernel
   * console, to console.log). Both are opened before vm.boot so that no
   * output is lost (CH before v53 drops serial output with no client).
   */
  private async attachConsoles(api: ClhApi, paths: ClhPaths): Promise<void> {
    const info = await api.info();
    const ptyPath = info.config.console?.file;
    if (!ptyPath) throw new MayuError('ERR_HYPERVISOR', 'Cloud Hypervisor: vm.info has no pty for the console (config.console.file)');
    const pty = openPty(ptyPath);
    this.pty = pty;
    pty.on('error', () => {});
    pty.unref();
    if (this.o.onGuestLog) this.o.onGuestLog(pty);
    else pty.resume();
    this.consoleFile = new CappedFile(paths.consoleLog, CONSOLE_LOG_MAX_BYTES);
    const serial = await connectSocket(paths.serial);
    this.serial = serial;
    serial.on('data', (chunk: Buffer) => this.consoleFile?.write(chunk));
    serial.unref();
  }

  private async failStart(err: unknown, paths: ClhPaths): Promise<MayuError> {
    // A lost connection during start-up is most often CH exiting: say so, with its exit.
    const lostConnection = isMayuError(err, 'ERR_HYPERVISOR') && err.details.status === undefined && this.exited !== null;
    if (lostConnection && !this.exit) await settlesWithin(this.exited as Promise<VmExit>, 300);
    const exit = this.exit;
    await this.destroy();
    await this.virtiofsd?.stop();
    this.virtiofsd = null;
    for (const f of clhRuntimeFiles(paths)) rmSync(f, { force: true });
    if (this.fsm.can('exited')) this.fsm.transition('exited');
    return startError(err, { binary: this.o.config.path, exit, logs: [paths.log, paths.stderr] });
  }

  private closeConnections(): void {
    this.serial?.destroy();
    this.serial = null;
    this.pty?.destroy();
    this.pty = null;
    this.consoleFile?.close();
    this.consoleFile = null;
  }
}
