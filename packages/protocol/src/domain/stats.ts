import type * as wire from '../gen/mayu/agent/v1/agent.js';
import { GuestReply, type WireIssueSink } from './guest-reply.js';

/** A container's resource usage. Every number is finite, >= 0 and at most Number.MAX_SAFE_INTEGER. */
export interface ContainerStats {
  cpu: { usageUsec: number; userUsec: number; systemUsec: number; nrThrottled: number; throttledUsec: number };
  memory: { usageBytes: number; limitBytes: number; maxUsageBytes: number; cacheBytes: number; rssBytes: number; oomKills: number };
  pids: { current: number; limit: number };
  blkio: { readBytes: number; writeBytes: number };
  /** Guest uptime when the sample was taken, in ms. */
  timestampMs: number;
}

export function containerStatsToWire(s: ContainerStats): wire.StatsContainerResponse {
  return { cpu: { ...s.cpu }, memory: { ...s.memory }, pids: { ...s.pids }, blkio: { ...s.blkio }, networks: [], timestampMs: s.timestampMs };
}

/**
 * StatsContainer's reply, on the host: a missing group reads as zeros; a
 * counter that is negative, not finite or not an integer becomes 0 (or is
 * rounded down), one above MAX_SAFE_INTEGER is clamped; each is reported.
 */
export function containerStatsFromWire(w: wire.StatsContainerResponse, report?: WireIssueSink): ContainerStats {
  const m = GuestReply.message('StatsContainer', w);
  const r = new GuestReply('StatsContainer', report);
  const counts = <K extends string>(group: string, part: Partial<Record<K, unknown>>, keys: readonly [K, string][]): Record<K, number> => {
    const out = {} as Record<K, number>;
    for (const [key, field] of keys) out[key] = part[key] === undefined ? 0 : r.count(`${group}.${field}`, part[key]);
    return out;
  };
  return {
    cpu: counts('cpu', r.part('cpu', m.cpu), [
      ['usageUsec', 'usage_usec'],
      ['userUsec', 'user_usec'],
      ['systemUsec', 'system_usec'],
      ['nrThrottled', 'nr_throttled'],
      ['throttledUsec', 'throttled_usec'],
    ]),
    memory: counts('memory', r.part('memory', m.memory), [
      ['usageBytes', 'usage_bytes'],
      ['limitBytes', 'limit_bytes'],
      ['maxUsageBytes', 'max_usage_bytes'],
      ['cacheBytes', 'cache_bytes'],
      ['rssBytes', 'rss_bytes'],
      ['oomKills', 'oom_kills'],
    ]),
    pids: counts('pids', r.part('pids', m.pids), [
      ['current', 'current'],
      ['limit', 'limit'],
    ]),
    blkio: counts('blkio', r.part('blkio', m.blkio), [
      ['readBytes', 'read_bytes'],
      ['writeBytes', 'write_bytes'],
    ]),
    timestampMs: r.time('timestamp_ms', m.timestampMs),
  };
}

/** GetOOMEvent's reply: the id of the container, cut to GUEST_REPLY_LIMITS.maxString. */
export function oomEventFromWire(w: wire.OOMEvent, report?: WireIssueSink): string {
  const m = GuestReply.message('GetOOMEvent', w);
  return new GuestReply('GetOOMEvent', report).string('container_id', m.containerId);
}
