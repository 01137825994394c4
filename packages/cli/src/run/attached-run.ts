import { join } from 'node:path';
import type { ExitStatus } from '@mayu/protocol';
import { CappedFile, pumpInput, pumpOutput, tearDownRunNetwork, type RunNetworkRecord, type RuntimeConfig, type Sandbox, writableSink } from '@mayu/runtime';
import type { Logger } from 'pino';
import { DEFAULT_TTY, forwardResize, forwardSignals } from './attach.js';
import { ContainerSession, type RunRequest } from './container-session.js';
import { removeRun, updateRun } from './run-records.js';

/** Logs of a run are kept up to this size each. */
export const RUN_LOG_MAX_BYTES = 16 * 1024 * 1024;

export interface RunIo {
  stdin: NodeJS.ReadStream | null;
  stdout: NodeJS.WriteStream | null;
  stderr: NodeJS.WriteStream | null;
}

/**
 * Boots the sandbox, runs the container to its end with its output going to
 * `io` (and to the run's log files), then removes the container and the VM.
 * Resolves with the container's exit status. On a failure before the
 * container started, the run's record is removed as well.
 */
export async function runToCompletion(o: {
  dir: string;
  req: RunRequest;
  config: RuntimeConfig;
  log: Logger;
  io: RunIo;
  onRunning?: () => void;
  /** What SIGINT/SIGTERM to this process do once the container runs: reach it (a user at a terminal), or kill it (a monitor told to stop). */
  onSignal?: 'forward' | 'kill';
}): Promise<ExitStatus> {
  let session: ContainerSession;
  // Until the container runs, Ctrl-C or SIGTERM abandon the run: the VM is destroyed, nothing is left.
  let booting: Sandbox | null = null;
  let network: RunNetworkRecord | null = null;
  const abandon = (): void => {
    void (booting ? booting.destroy() : Promise.resolve())
      .then(() => tearDownRunNetwork(network))
      .finally(() => {
        try {
          removeRun(o.dir);
        } catch (err) {
          // Still exit 130: a throw here would end the process as an unhandled rejection.
          o.log.warn({ err }, 'cannot remove the run record');
        }
        process.exit(130);
      });
  };
  process.on('SIGINT', abandon);
  process.on('SIGTERM', abandon);
  try {
    session = await ContainerSession.create(
      o.req,
      o.config,
      o.log,
      (s) => (booting = s),
      (n) => {
        network = n;
        updateRun(o.dir, { network: n });
      },
    );
  } catch (err) {
    updateRun(o.dir, { status: 'failed', error: (err as Error).message, ownerPid: null });
    throw err;
  } finally {
    process.off('SIGINT', abandon);
    process.off('SIGTERM', abandon);
  }
  const undo: (() => void)[] = [];
  try {
    updateRun(o.dir, { status: 'running', ownerPid: process.pid, sandboxDir: session.sandbox.stateDir });
    const agent = session.agent;
    const logs = { stdout: new CappedFile(join(o.dir, 'stdout.log'), RUN_LOG_MAX_BYTES), stderr: new CappedFile(join(o.dir, 'stderr.log'), RUN_LOG_MAX_BYTES) };
    undo.push(
      () => logs.stdout.close(),
      () => logs.stderr.close(),
    );
    const out = pumpOutput(agent, session.ref, 'stdout', [(c) => logs.stdout.write(c), ...(o.io.stdout ? [writableSink(o.io.stdout)] : [])]);
    const err = pumpOutput(agent, session.ref, 'stderr', [(c) => logs.stderr.write(c), ...(o.io.stderr ? [writableSink(o.io.stderr)] : [])]);
    if (o.req.terminal && o.io.stdout?.isTTY) undo.push(forwardResize(agent, session.ref, o.io.stdout));
    else if (o.req.terminal) await agent.resizeTty(session.ref, DEFAULT_TTY.rows, DEFAULT_TTY.columns);
    if (o.req.terminal && o.io.stdin?.isTTY) {
      o.io.stdin.setRawMode(true);
      undo.push(() => o.io.stdin?.setRawMode(false));
    } else if (o.onSignal === 'kill') {
      const kill = (): void => void agent.signalProcess(session.ref, 9, true).catch(() => {});
      process.on('SIGTERM', kill);
      process.on('SIGINT', kill);
      undo.push(() => {
        process.off('SIGTERM', kill);
        process.off('SIGINT', kill);
      });
    } else {
      undo.push(forwardSignals(agent, session.ref));
    }
    await session.start();
    o.onRunning?.();
    if (o.req.stdin && o.io.stdin) {
      void pumpInput(agent, session.ref, o.io.stdin);
      undo.push(() => o.io.stdin?.pause());
    }
    const exit = await session.wait();
    await Promise.all([out, err]);
    return exit;
  } catch (err) {
    // Recorded for mayu ps -a: a VM that died says why.
    updateRun(o.dir, { status: 'failed', error: (err as Error).message, ownerPid: null });
    o.log.error({ event: 'run.failed', sandboxId: session.sandbox.id, containerId: session.id, reason: (err as Error).message }, 'the container did not run to its end');
    throw err;
  } finally {
    for (const u of undo.reverse()) u();
    await session.finish();
  }
}

/** mayu run, attached: the process exits with the container's status. */
export async function attachRun(o: { dir: string; req: RunRequest; config: RuntimeConfig; log: Logger; remove: boolean }): Promise<number> {
  let exit: ExitStatus;
  try {
    exit = await runToCompletion({ ...o, io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } });
  } catch (err) {
    removeRun(o.dir);
    throw err;
  }
  if (o.remove) removeRun(o.dir);
  else updateRun(o.dir, { status: 'exited', exit, ownerPid: null, sandboxDir: null });
  return exit.exitStatus;
}
