import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants, networkInterfaces } from 'node:os';
import type { Server } from 'node:net';
import type { ExitStatus } from '@mayu/protocol';
import { loadConfig, type RunNetworkRecord, type Sandbox } from '@mayu/runtime';
import type { Logger } from 'pino';
import { ContainerSession, type RunRequest } from '../run/container-session.js';
import { serveControl, type ControlRequest } from './control.js';
import { addMember, MemberSession, type HeldContainer } from './pod.js';
import { RuntimeCliError } from './errors.js';
import { createRuntimeLogger, type LogOptions } from './log.js';
import { runHooks } from './hooks.js';
import { sendReport } from './report.js';
import { ProcessStdio } from './stdio.js';
import { dropExecHolderNote, execHolderNotes, ociState, readRecord, updateRecord, validateContainerId, type ContainerStatus, type PodRef } from './state.js';

/** What `create` leaves for its holder in the container's directory. */
export interface HolderRequest {
  req: RunRequest;
  /** create --console-socket: where the terminal's master goes (process.terminal). */
  consoleSocket?: string;
  configPath: string | null;
  log: LogOptions;
  /** A pod's container (its annotations say so): it joins the VM of the pod's sandbox container. */
  pod?: PodRef;
}

/** The signals the holder passes on to the container (the engine may signal the PID it waits on). */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The status a holder exits with when the VM died under the container: as if it had been killed. */
const VM_DIED_STATUS = 137;

/** How often the holder looks for exec holders killed without a word. */
const ORPHANED_EXEC_CHECK_MS = 1000;

/** How long, after the container's exit, its output may take to drain. */
const OUTPUT_DRAIN_MS = 10_000;

/** Which requests each status allows, in runc's words when it refuses. */
function refusal(status: ContainerStatus, op: ControlRequest['op']): string | null {
  if (op === 'start' && status !== 'created') return status === 'stopped' ? 'cannot start a container that has stopped' : 'cannot start an already running container';
  if (op === 'kill' && status === 'stopped') return 'container not running';
  if (op === 'pause' && status !== 'running') return `container not running: ${status}`;
  if (op === 'resume' && status !== 'paused') return 'container not paused';
  if (op === 'add-member' && status === 'stopped') return "the pod's sandbox container has stopped: its VM is gone";
  if (op === 'update' && status === 'stopped') return 'container not running';
  return null;
}

/**
 * `mayu-runtime _holder DIR`: the host process that stands for one
 * container, as kata-runtime v1's kata-shim did. `create` starts it with its
 * own stdio, so the container's stdout and stderr reach what the engine gave
 * `create`, and stdin comes from it; the engine waits on its PID and reads
 * the container's exit status from it (128+N for signal N). It owns the
 * sandbox: when the container exits it removes the VM, records the status
 * and exits with it.
 */
export async function holderCommand(args: string[]): Promise<number> {
  const [dir] = args;
  if (!dir) throw new RuntimeCliError('_holder needs the container directory');
  const { req, configPath, consoleSocket, log: logOptions, pod } = JSON.parse(readFileSync(join(dir, 'request.json'), 'utf8')) as HolderRequest;
  const log = createRuntimeLogger(logOptions.file ? logOptions : { ...logOptions, file: join(dir, 'holder.log') }).child({ containerId: req.id });
  // Its stdio is the container's: nothing of its own may reach it, a crash included.
  const crash = (err: unknown): void => {
    log.fatal({ err }, 'the holder crashed');
    sendReport({ error: `the container holder crashed: ${(err as Error).message}` });
    process.exit(VM_DIED_STATUS);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const config = loadConfig(configPath ?? undefined);
  let session: HeldContainer;
  let members: PodMembers | undefined;
  let booting: Sandbox | null = null;
  let network: RunNetworkRecord | null = null;
  // Until the container exists, a signal abandons it: nothing is left.
  const abandon = (): void => void (booting?.destroy() ?? Promise.resolve()).finally(() => process.exit(1));
  process.on('SIGTERM', abandon);
  process.on('SIGINT', abandon);
  try {
    await runPreStartHooks(dir);
    // A hook may have wired this holder's own network namespace (Docker's libnetwork-setkey moves the
    // container's veth into /proc/PID/ns/net): the VM's NICs come from it, as from an engine's namespace.
    if (req.network?.kind === 'none' && hasExternalInterface()) req.network = { kind: 'ns', path: `/proc/${process.pid}/ns/net` };
    if (pod) {
      session = await MemberSession.create(req.id, pod, config);
    } else {
      const own = await ContainerSession.create(
        req,
        config,
        log,
        (s) => (booting = s),
        (n) => (network = n),
      );
      session = own;
      members = podMembers(dir, own, config);
    }
  } catch (err) {
    log.error({ err }, 'cannot create the container (or a prestart or createRuntime hook failed)');
    sendReport({ error: (err as Error).message });
    return 1;
  }
  // Until the container is handed over (hooks run, the report sent), a signal still abandons it.
  const handOver = (): void => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.off(sig, abandon);
  };
  const consoleSize = (req.spec.process as { consoleSize?: { height?: number; width?: number } } | undefined)?.consoleSize;
  return hold(dir, session, network, log, consoleSocket ? { socket: consoleSocket, size: consoleSize } : undefined, handOver, members);
}

/**
 * prestart and createRuntime hooks, before the VM boots: the holder (the
 * state's pid) exists, in the container's network namespace on the host,
 * which is what these hooks act on; so what a hook sets up there (an
 * engine's network) is in place when the VM is wired from it. A failure
 * fails create before anything was booted.
 */
async function runPreStartHooks(dir: string): Promise<void> {
  const record = readRecord(dir);
  if (!record) throw new RuntimeCliError(`the container's record in ${dir} is gone`);
  const state = { ...ociState(record), status: 'created', pid: process.pid };
  await runHooks(record.hooks, 'prestart', state);
  await runHooks(record.hooks, 'createRuntime', state);
}

/** Whether this process's network namespace has an interface besides loopback. */
function hasExternalInterface(): boolean {
  return Object.entries(networkInterfaces()).some(([name, addrs]) => name !== 'lo' && (addrs ?? []).some((a) => !a.internal));
}

/** What a VM's holder does for the containers in its VM: the pod's others (add-member, remove-member) and resizes (update). */
type PodMembers = (r: Extract<ControlRequest, { op: 'add-member' | 'remove-member' | 'update' }>) => Promise<void>;

function podMembers(dir: string, session: ContainerSession, config: ReturnType<typeof loadConfig>): PodMembers {
  return async (r) => {
    validateContainerId(r.id);
    if (r.op === 'add-member') await addMember(dir, session.sandbox, session.id, config, r.id);
    else if (r.op === 'update') await session.sandbox.updateContainer(r.id, r.resources);
    else await session.sandbox.removeContainer(r.id, 2000);
  };
}

async function hold(
  dir: string,
  session: HeldContainer,
  network: RunNetworkRecord | null,
  log: Logger,
  console_: { socket: string; size?: { height?: number; width?: number } } | undefined,
  handOver: () => void,
  members: PodMembers | undefined,
): Promise<number> {
  const agent = session.agent;
  const ref = session.ref;
  let status: ContainerStatus = 'created';
  const setStatus = (s: ContainerStatus): void => {
    status = s;
    updateRecord(dir, { status: s });
  };
  const exited = session.wait();
  // Awaited below; until then a VM that dies must not be an unhandled rejection.
  exited.catch(() => {});
  let server: Server | null = null;
  let stdio: ProcessStdio;
  try {
    stdio = await ProcessStdio.open({ agent, ref, log, consoleSocket: console_?.socket, consoleSize: console_?.size, controlling: true });
  } catch (e) {
    // Everything is removed before create hears of the failure: it then finds nothing left.
    await session.abort();
    sendReport({ error: `cannot give the container its terminal (--console-socket ${console_?.socket}): ${(e as Error).message}` });
    return 1;
  }
  try {
    server = await serveControl(dir, async (r) => {
      if ((r.op === 'destroy' || r.op === 'remove-member') && status === 'stopped') return;
      const refused = refusal(status, r.op);
      if (refused) throw new RuntimeCliError(refused);
      if (r.op === 'start') {
        await session.start();
        // A quick process may have exited (and been recorded stopped) before start returned.
        if (status === 'created') setStatus('running');
        // The spec: a failing poststart hook is a warning, and the container goes on.
        const started = readRecord(dir);
        if (started) await runHooks(started.hooks, 'poststart', ociState(started), (e) => log.warn({ err: e }, 'poststart hook failed'));
        stdio.startInput();
      } else if (r.op === 'kill') await agent.signalProcess(ref, r.signal, r.all);
      else if (r.op === 'pause') await agent.pauseContainer(session.id).then(() => setStatus('paused'));
      else if (r.op === 'resume') await agent.resumeContainer(session.id).then(() => setStatus('running'));
      else if (r.op === 'add-member' || r.op === 'remove-member' || r.op === 'update') {
        if (!members) throw new RuntimeCliError(`container ${session.id} is not a pod's sandbox container: it runs in its pod's VM`);
        await members(r);
      } else await agent.signalProcess(ref, 9, true);
    });
  } catch (e) {
    stdio.close();
    await session.abort();
    sendReport({ error: `cannot serve the control socket: ${(e as Error).message}` });
    return 1;
  }
  updateRecord(dir, { status: 'created', sandboxDir: session.sandboxDir, network });
  handOver();
  const forward = (sig: NodeJS.Signals) => (): void => void agent.signalProcess(ref, constants.signals[sig]).catch(() => {});
  for (const sig of FORWARDED) process.on(sig, forward(sig));
  sendReport({ ok: true });
  // A detached exec's holder killed without a word (SIGKILL) would leave its exec running in the guest, unseen: it is ended.
  const orphanedExecs = setInterval(() => {
    for (const note of execHolderNotes(dir)) {
      if (note.alive) continue;
      dropExecHolderNote(dir, note.pid);
      log.warn({ execId: note.execId, holderPid: note.pid }, "an exec's holder died without finishing: the exec is killed");
      void agent.signalProcess({ containerId: session.id, execId: note.execId }, 9).catch(() => {});
    }
  }, ORPHANED_EXEC_CHECK_MS);
  let exit: ExitStatus | null = null;
  try {
    exit = await exited;
  } catch (e) {
    log.error({ err: e }, 'the container did not run to its end');
  }
  clearInterval(orphanedExecs);
  // Stopped from here on: kill says "container not running" while the VM is taken down.
  status = 'stopped';
  // What is still buffered comes out; a process left holding the output open does not hold the exit up.
  if (exit) await Promise.race([stdio.drained(), sleep(OUTPUT_DRAIN_MS)]);
  stdio.close();
  // Stopped, said at once (engines poll state), while the VM is taken down; delete waits for this holder, which
  // marks the end of the teardown by clearing sandboxDir below.
  if (exit && readRecord(dir)) updateRecord(dir, { status: 'stopped', exit });
  if (exit) await session.finish();
  else await session.abort();
  server.close();
  const code = exit ? exit.exitStatus : VM_DIED_STATUS;
  if (readRecord(dir)) updateRecord(dir, { status: 'stopped', exit: exit ?? { exitStatus: code, signal: 9, exitedAtMs: Date.now() }, sandboxDir: null });
  log.info({ event: 'container.exited', exitStatus: code }, 'the container exited');
  return code;
}
