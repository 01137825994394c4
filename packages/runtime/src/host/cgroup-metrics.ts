import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsV1Wire, cgroupsV2Wire } from '@mayu/protocol';

/** A host cgroup's metrics as containerd decodes them: the v1 or v2 message, by the host's hierarchy. */
export type HostCgroupMetrics = { version: 1; metrics: cgroupsV1Wire.Metrics } | { version: 2; metrics: cgroupsV2Wire.Metrics };

/** cgroup's "max" (and v1's near-2^63 "unlimited") as containerd's MaxUint64 stand-in: 2^63, exact in a JavaScript number. */
const UNLIMITED = 2 ** 63;

/** A cgroup file's number ("max" is unlimited); 0 when the file is missing or unreadable. */
function num(file: string): number {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text === 'max') return UNLIMITED;
    const n = Number(text);
    return Number.isFinite(n) ? Math.min(n, UNLIMITED) : 0;
  } catch {
    return 0;
  }
}

/** A flat-keyed cgroup file (memory.stat, cpu.stat, cpuacct.stat) as numbers; empty when missing. */
function keyed(file: string): Record<string, number> {
  try {
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .filter((f): f is [string, string] => f.length === 2)
        .map(([k, v]) => [k, Number(v)]),
    );
  } catch {
    return {};
  }
}

/** USER_HZ: the unit of cpuacct.stat. */
const TICK_NS = 1e7;

/**
 * The metrics of a cgroup the host gives a pod (its directory in each
 * hierarchy, as joinPodCgroup made them): cgroup v2's when memory is
 * accounted in a v2 one, else cgroup v1's from the memory, cpu(acct) and pids
 * hierarchies. Null when none of them can be read.
 */
export function hostCgroupMetrics(dirs: string[]): HostCgroupMetrics | null {
  // A hybrid host's unified hierarchy has cgroup.controllers but no controller: v2 is where memory is.
  const v2 = dirs.find((d) => existsSync(join(d, 'memory.current')));
  if (v2) {
    const memory = keyed(join(v2, 'memory.stat'));
    const cpu = keyed(join(v2, 'cpu.stat'));
    return {
      version: 2,
      metrics: {
        pids: { current: num(join(v2, 'pids.current')), limit: num(join(v2, 'pids.max')) },
        cpu: {
          usageUsec: cpu.usage_usec ?? 0,
          userUsec: cpu.user_usec ?? 0,
          systemUsec: cpu.system_usec ?? 0,
          nrPeriods: cpu.nr_periods ?? 0,
          nrThrottled: cpu.nr_throttled ?? 0,
          throttledUsec: cpu.throttled_usec ?? 0,
        },
        memory: {
          anon: memory.anon ?? 0,
          file: memory.file ?? 0,
          usage: num(join(v2, 'memory.current')),
          usageLimit: num(join(v2, 'memory.max')) || UNLIMITED,
          maxUsage: num(join(v2, 'memory.peak')),
        },
        io: undefined,
        memoryEvents: undefined,
      },
    };
  }
  const memoryDir = dirs.find((d) => existsSync(join(d, 'memory.usage_in_bytes')));
  const cpuDir = dirs.find((d) => existsSync(join(d, 'cpuacct.usage')));
  const pidsDir = dirs.find((d) => existsSync(join(d, 'pids.current')));
  if (!memoryDir && !cpuDir) return null;
  const stat = memoryDir ? keyed(join(memoryDir, 'memory.stat')) : {};
  const ticks = cpuDir ? keyed(join(cpuDir, 'cpuacct.stat')) : {};
  const throttle = cpuDir ? keyed(join(cpuDir, 'cpu.stat')) : {};
  return {
    version: 1,
    metrics: {
      pids: pidsDir ? { current: num(join(pidsDir, 'pids.current')), limit: num(join(pidsDir, 'pids.max')) } : undefined,
      cpu: cpuDir
        ? {
            usage: { total: num(join(cpuDir, 'cpuacct.usage')), kernel: (ticks.system ?? 0) * TICK_NS, user: (ticks.user ?? 0) * TICK_NS },
            throttling: { periods: throttle.nr_periods ?? 0, throttledPeriods: throttle.nr_throttled ?? 0, throttledTime: throttle.throttled_time ?? 0 },
          }
        : undefined,
      memory: memoryDir
        ? {
            cache: stat.cache ?? 0,
            rss: stat.rss ?? 0,
            totalCache: stat.total_cache ?? 0,
            totalRss: stat.total_rss ?? 0,
            totalInactiveFile: stat.total_inactive_file ?? 0,
            usage: {
              usage: num(join(memoryDir, 'memory.usage_in_bytes')),
              limit: num(join(memoryDir, 'memory.limit_in_bytes')),
              max: num(join(memoryDir, 'memory.max_usage_in_bytes')),
              failcnt: num(join(memoryDir, 'memory.failcnt')),
            },
          }
        : undefined,
    },
  };
}
