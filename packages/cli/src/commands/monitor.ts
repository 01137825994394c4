import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { isMayuError } from '@mayu/protocol';
import { loadConfig } from '@mayu/runtime';
import type { Logger } from 'pino';
import { runToCompletion } from '../run/attached-run.js';
import type { RunRequest } from '../run/container-session.js';
import { updateRun } from '../run/run-records.js';

/** The fd on which the monitor reports to `mayu run -d` that the container runs (or why not). */
const REPORT_FD = 3;

function report(message: Record<string, unknown>): void {
  try {
    const out: WriteStream = createWriteStream('', { fd: REPORT_FD });
    out.end(JSON.stringify(message));
  } catch {
    // the parent is gone
  }
}

/**
 * `mayu _monitor DIR`: the owner of a detached run's sandbox. It boots the
 * VM, runs the container with its output going to DIR's log files, keeps the
 * agent's bridge socket open (mayu exec, mayu kill), and when the container
 * has exited records its status and removes the VM. SIGTERM (mayu rm -f)
 * kills the container, which ends the run the same way.
 */
export async function monitorCommand(args: string[], log: Logger): Promise<number> {
  const [dir] = args;
  if (!dir) throw new Error('_monitor needs the run directory');
  const req = JSON.parse(readFileSync(join(dir, 'request.json'), 'utf8')) as RunRequest & { configPath?: string };
  updateRun(dir, { ownerPid: process.pid });
  let reported = false;
  try {
    const exit = await runToCompletion({
      dir,
      req,
      config: loadConfig(req.configPath),
      log,
      io: { stdin: null, stdout: null, stderr: null },
      onSignal: 'kill',
      onRunning: () => {
        reported = true;
        report({ ok: true });
      },
    });
    updateRun(dir, { status: 'exited', exit, ownerPid: null, sandboxDir: null });
    return 0;
  } catch (err) {
    if (!reported) report({ error: (err as Error).message, code: isMayuError(err) ? err.code : undefined });
    log.error({ err }, 'detached run failed');
    return 1;
  }
}
