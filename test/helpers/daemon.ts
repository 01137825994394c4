import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountsUnder } from '@mayu/runtime';
import { ARTIFACTS } from './guest-factory.js';
import { entriesOf, processesMentioning } from './leftovers.js';

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

/** Where containerd-style shims put their sockets (containerd's, and cri-o's VM runtimes'). */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

/** What a stopped daemon's test directory left: its processes (killed now), mounts, and shim sockets new since `socketsBefore`. */
export interface DaemonLeftovers {
  processes: string[];
  mounts: string[];
  sockets: string[];
}

/** Kills what still runs from `dir` and lists what is left there, for assertNothingLeft once `dir` is cleaned. */
export function daemonLeftovers(dir: string, socketsBefore: ReadonlySet<string>): DaemonLeftovers {
  const processes = processesMentioning(dir);
  for (const p of processes) process.kill(p.pid, 'SIGKILL');
  return { processes: processes.map((p) => p.cmdline), mounts: mountsUnder(dir), sockets: entriesOf(SHIM_SOCKET_DIR).filter((s) => !socketsBefore.has(s)) };
}

export function assertNothingLeft(left: DaemonLeftovers): void {
  assert.deepEqual(left.processes, [], 'processes left behind');
  assert.deepEqual(left.mounts, [], 'mounts left behind');
  assert.deepEqual(left.sockets, [], `shim sockets left behind in ${SHIM_SOCKET_DIR}`);
}
