import type { GuestDetails } from '@mayu/protocol';

/** Milliseconds from the hypervisor's spawn to each boot milestone. */
export interface BootTimings {
  /** The VM's vCPUs started (process up, QMP negotiated, logs attached). */
  spawnMs: number;
  /** The guest kernel started (its uptime zero). */
  kernelStartMs: number;
  /** mayu-init (PID 1) started. */
  initStartMs: number;
  /** The agent's process started (Node itself begins). */
  agentProcessStartMs: number;
  /** The agent's own code started (Node's start-up done). */
  agentMainMs: number;
  /** The agent listens on its channels. */
  agentListeningMs: number;
  /** The host got its first successful answer (Check). */
  firstRpcMs: number;
}

export interface TimingSamples {
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
  const at = (guestMs: number): number => round(kernelStart + guestMs - s.spawnedAt);
  return {
    spawnMs: round(s.runningAt - s.spawnedAt),
    kernelStartMs: at(0),
    initStartMs: at(s.guest.boot.initStartMs),
    agentProcessStartMs: at(s.guest.boot.agentProcessStartMs),
    agentMainMs: at(s.guest.boot.agentMainMs),
    agentListeningMs: at(s.guest.boot.agentListeningMs),
    firstRpcMs: round(s.firstRpcAt - s.spawnedAt),
  };
}
