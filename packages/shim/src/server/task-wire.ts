import { cgroupsV2Wire, taskTypesWire, type ContainerStats } from '@mayu/protocol';
import type { TaskStatus } from './task-process.js';

/** Conversions between the shim's state and containerd's wire types. */

const { Status } = taskTypesWire;

export const STATUS_OF: Record<TaskStatus, number> = { created: Status.CREATED, running: Status.RUNNING, stopped: Status.STOPPED, paused: Status.PAUSED };

/** A containerd.events message type, by its bare name, for the event publisher. */
export function eventType<T>(name: string, codec: { encode(m: T): { finish(): Uint8Array } }): { name: string; encode(m: T): { finish(): Uint8Array } } {
  return { name: `containerd.events.${name}`, encode: (m) => codec.encode(m) };
}

/**
 * What cgroup v2 reports for a memory limit of "max" (its MaxUint64, above
 * which containerd's CRI takes memory as unlimited and reports no available
 * bytes); 2^63, which a JavaScript number encodes exactly.
 */
const UNLIMITED = 2 ** 63;

/** A container's stats from the guest as cgroup v2 metrics (what `ctr tasks metrics` and CRI's stats decode). */
export function metricsOf(s: ContainerStats): cgroupsV2Wire.Metrics {
  return {
    pids: { current: s.pids.current, limit: s.pids.limit },
    cpu: { usageUsec: s.cpu.usageUsec, userUsec: s.cpu.userUsec, systemUsec: s.cpu.systemUsec, nrPeriods: 0, nrThrottled: s.cpu.nrThrottled, throttledUsec: s.cpu.throttledUsec },
    memory: { anon: s.memory.rssBytes, file: s.memory.cacheBytes, usage: s.memory.usageBytes, usageLimit: s.memory.limitBytes || UNLIMITED, maxUsage: s.memory.maxUsageBytes },
    io: { usage: [{ major: 0, minor: 0, rbytes: s.blkio.readBytes, wbytes: s.blkio.writeBytes, rios: 0, wios: 0 }] },
    memoryEvents: { low: 0, high: 0, max: 0, oom: 0, oomKill: s.memory.oomKills },
  };
}
