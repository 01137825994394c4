import type * as wire from '../gen/mayu/agent/v1/agent.js';
import { GUEST_REPLY_LIMITS as LIMITS, GuestReply, type WireIssueSink } from './guest-reply.js';

/**
 * Replies about processes. The `*FromWire` conversions here run on the host
 * on what the guest sent: they clamp, cut and drop instead of trusting it
 * (see guest-reply.ts), and report each change to `report`.
 */

export interface ExitStatus {
  /** The code, or 128 + the signal that ended the process: 0..255 (255 when the guest sent something else). */
  exitStatus: number;
  /** The signal that ended it (0..64), 0 if it exited. */
  signal: number;
  /** Guest uptime at exit, in ms: finite and >= 0. */
  exitedAtMs: number;
}

export interface ProcessListing {
  /** 1..GUEST_REPLY_LIMITS.maxPid. */
  pid: number;
  /** At most GUEST_REPLY_LIMITS.maxString code units, like `command`. */
  execId: string;
  command: string;
}

export function exitStatusToWire(e: ExitStatus): wire.WaitProcessResponse {
  return { exitStatus: e.exitStatus, signal: e.signal, exitedAtMs: e.exitedAtMs };
}

/** WaitProcess's reply: an exit status out of 0..255 becomes 255, a signal out of 0..64 becomes 0. */
export function exitStatusFromWire(w: wire.WaitProcessResponse, report?: WireIssueSink): ExitStatus {
  const m = GuestReply.message('WaitProcess', w);
  const r = new GuestReply('WaitProcess', report);
  return {
    exitStatus: r.int('exit_status', m.exitStatus, 0, LIMITS.maxExitStatus, LIMITS.maxExitStatus),
    signal: r.int('signal', m.signal, 0, LIMITS.maxSignal, 0),
    exitedAtMs: r.time('exited_at_ms', m.exitedAtMs),
  };
}

/**
 * ListProcesses's reply: at most maxList entries; entries whose pid is not in
 * 1..maxPid are dropped; exec ids and commands are cut to maxString.
 */
export function processListingFromWire(w: wire.ListProcessesResponse, report?: WireIssueSink): ProcessListing[] {
  const m = GuestReply.message('ListProcesses', w);
  const r = new GuestReply('ListProcesses', report);
  const listed = r.list('processes', m.processes, LIMITS.maxList, (p, field) => {
    const entry = r.part(field, p);
    const pid = entry.pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > LIMITS.maxPid) {
      r.issue(`${field}.pid`, pid, `not a pid in 1..${LIMITS.maxPid}: entry dropped`);
      return null;
    }
    return { pid, execId: r.string(`${field}.exec_id`, entry.execId), command: r.string(`${field}.command`, entry.command) };
  });
  return listed.filter((p): p is ProcessListing => p !== null);
}

/** ReadStdout/ReadStderr's reply: at most `maxLen` bytes (what was asked for), copied. */
export function readStreamFromWire(w: wire.ReadStreamResponse, maxLen: number, report?: WireIssueSink): Buffer {
  const m = GuestReply.message('ReadStream', w);
  const r = new GuestReply('ReadStream', report);
  const data = m.data as unknown;
  if (!(data instanceof Uint8Array)) {
    if (data !== undefined) r.issue('data', data, 'not bytes: set to empty');
    return Buffer.alloc(0);
  }
  if (data.length > maxLen) r.issue('data', data.length, `more than the ${maxLen} bytes asked for: cut`);
  return Buffer.from(data.subarray(0, Math.max(0, maxLen)));
}

/** WriteStdin's reply: the bytes written, 0..`sent`. */
export function writeStreamFromWire(w: wire.WriteStreamResponse, sent: number, report?: WireIssueSink): number {
  const m = GuestReply.message('WriteStream', w);
  const r = new GuestReply('WriteStream', report);
  const len = r.count('len', m.len);
  if (len <= sent) return len;
  r.issue('len', len, `more than the ${sent} bytes sent: clamped`);
  return sent;
}
