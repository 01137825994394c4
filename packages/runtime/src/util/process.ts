import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { settlesWithin } from './timeout.js';

/** True while a process with this PID exists (zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or null when it is gone. */
export function processCmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/**
 * When the process started (clock ticks since boot, /proc/PID/stat field 22),
 * or null when it is gone. PID and start time together name one process:
 * a PID reused by another process has another start time.
 */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** Polls until the process is gone; true if it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processExists(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

/**
 * Ends a process we started: SIGTERM, then SIGKILL when it has not exited
 * after `graceMs`. `exited` tells when it is gone (for a child, its exit
 * event; otherwise polling).
 */
export async function terminate(pid: number, graceMs: number, exited?: Promise<unknown>): Promise<void> {
  const gone = (ms: number): Promise<boolean> => (exited ? settlesWithin(exited, ms) : waitForExit(pid, ms));
  if (!signal(pid, 'SIGTERM')) return;
  if (await gone(graceMs)) return;
  signal(pid, 'SIGKILL');
  await gone(5000);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
