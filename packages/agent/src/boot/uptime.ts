import { performance } from 'node:perf_hooks';

/**
 * Milliseconds since the guest kernel started. In the guest, CLOCK_MONOTONIC
 * (Node's hrtime) counts from boot, so it is the kernel's uptime.
 */
export function uptimeMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Uptime at which this process started, from Node's own time origin. */
export function processStartUptimeMs(): number {
  return uptimeMs() - performance.now();
}
