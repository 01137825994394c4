import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ExitStatus } from '@mayu/protocol';
import { uptimeMs } from '../boot/uptime.js';

/** The fd on which mayu-init reports the processes it reaped (see mayu-init.c). */
export const EXIT_REPORT_FD = 3;
const RECORD = 8;
/** Reports for PIDs nobody asked about yet are kept this long (a process can exit before its PID is known). */
const MAX_UNCLAIMED = 4096;

/** Decodes a wait(2) status: the exit code, or 128 + the signal that killed the process. */
export function decodeWaitStatus(status: number): { exitStatus: number; signal: number } {
  const sig = status & 0x7f;
  if (sig === 0) return { exitStatus: (status >> 8) & 0xff, signal: 0 };
  return { exitStatus: 128 + sig, signal: sig };
}

/**
 * Exit statuses of orphaned processes, from mayu-init. Container processes
 * are orphaned to init when the OCI runtime's `create` or `exec -d` returns,
 * so this is how the agent learns their exact exit codes.
 */
export class ExitReports {
  private pending: Buffer = Buffer.alloc(0);
  private readonly unclaimed = new Map<number, ExitStatus>();
  private readonly waiters = new Map<number, ((e: ExitStatus) => void)[]>();

  /**
   * Reads reports from `source` (init's pipe on fd 3 in the guest). A read
   * error ends the reports (init is gone, and the VM with it): `onError`
   * hears it; it never crashes the agent.
   */
  attach(source: Readable, onError: (err: Error) => void = () => {}): void {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('error', onError);
  }

  /** Opens fd 3 when init provided it; false elsewhere (a developer's host). */
  attachInitPipe(): boolean {
    try {
      this.attach(new Socket({ fd: EXIT_REPORT_FD, readable: true, writable: false }));
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves when `pid` has been reaped (at once if it already was). */
  waitFor(pid: number): Promise<ExitStatus> {
    const done = this.unclaimed.get(pid);
    if (done) {
      this.unclaimed.delete(pid);
      return Promise.resolve(done);
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(pid) ?? [];
      list.push(resolve);
      this.waiters.set(pid, list);
    });
  }

  /** Records one report (also used by tests). */
  report(pid: number, status: number): void {
    const exit: ExitStatus = { ...decodeWaitStatus(status), exitedAtMs: uptimeMs() };
    const waiters = this.waiters.get(pid);
    if (waiters) {
      this.waiters.delete(pid);
      for (const w of waiters) w(exit);
      return;
    }
    this.unclaimed.set(pid, exit);
    if (this.unclaimed.size > MAX_UNCLAIMED) this.unclaimed.delete(this.unclaimed.keys().next().value as number);
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    for (; off + RECORD <= this.pending.length; off += RECORD) {
      this.report(this.pending.readInt32LE(off), this.pending.readInt32LE(off + 4));
    }
    this.pending = this.pending.subarray(off);
  }
}
