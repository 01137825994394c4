import type { GuestDetails } from '@mayu/protocol';

/**
 * Milliseconds from the hypervisor's spawn to each boot milestone. A VM
 * restored from a template did not boot: its guest milestones are the
 * template's, long past, and null here.
 */
export interface BootTimings {
  /** Restored from a template (a clone), not booted. */
  restored: boolean;
  /** The VM's vCPUs started (process up, QMP negotiated, state restored for a clone, logs attached). */
  spawnMs: number;
  /** The guest kernel started (its uptime zero). */
  kernelStartMs: number | null;
  /** mayu-init (PID 1) started. */
  initStartMs: number | null;
  /** The agent's process started (Node itself begins). */
  agentProcessStartMs: number | null;
  /** The agent's own code started (Node's start-up done). */
  agentMainMs: number | null;
  /** The agent listens on its channels. */
  agentListeningMs: number | null;
  /** The host got its first successful answer (Check). */
  firstRpcMs: number;
}

export interface TimingSamples {
  restored?: boolean;
  spawnedAt: number;
  runningAt: number;
  firstRpcAt: number;
  /** Host times around the GetGuestDetails call whose uptime is used. */
  detailsSentAt: number;
  detailsReceivedAt: number;
  guest: GuestDetails;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * Places the guest's milestones (its uptime at each) on the host's clock:
 * the kernel started at the midpoint of the details call minus the uptime
 * the guest reported in it (so the error is at most half that round trip).
 */
export function computeBootTimings(s: TimingSamples): BootTimings {
  const kernelStart = (s.detailsSentAt + s.detailsReceivedAt) / 2 - s.guest.uptimeMs;
  const at = (guestMs: number): number | null => (s.restored ? null : round(kernelStart + guestMs - s.spawnedAt));
  return {
    restored: s.restored ?? false,
    spawnMs: round(s.runningAt - s.spawnedAt),
    kernelStartMs: at(0),
    initStartMs: at(s.guest.boot.initStartMs),
    agentProcessStartMs: at(s.guest.boot.agentProcessStartMs),
    agentMainMs: at(s.guest.boot.agentMainMs),
    agentListeningMs: at(s.guest.boot.agentListeningMs),
    firstRpcMs: round(s.firstRpcAt - s.spawnedAt),
  };
}
