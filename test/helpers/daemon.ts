import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ARTIFACTS } from './guest-factory.js';

/** Keeps a daemon's log with a failed test's artifacts: .mayu-test/failed/TITLE/NAME. */
export function keepFailedLog(log: string, title: string): void {
  if (!existsSync(log)) return;
  const dest = join(ARTIFACTS, 'failed', title.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 120));
  mkdirSync(dest, { recursive: true });
  copyFileSync(log, join(dest, basename(log)));
}

/** Ends a daemon a test started, by its PID: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function endDaemon(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(graceMs)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
