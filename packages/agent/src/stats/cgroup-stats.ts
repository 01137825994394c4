import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ContainerStats } from '@mayu/protocol';
import { uptimeMs } from '../boot/uptime.js';

/** Where containers' cgroups live in the guest (crun: linux.cgroupsPath = /mayu/<id>). */
export const CGROUP_ROOT = '/sys/fs/cgroup';
export const CONTAINER_CGROUP_PARENT = 'mayu';

/** A container's cgroup directory; `root` is the cgroup v2 mount (tests point it elsewhere). */
export function containerCgroup(id: string, root = CGROUP_ROOT): string {
  return `${root}/${CONTAINER_CGROUP_PARENT}/${id}`;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** "key value" lines (cpu.stat, memory.stat, memory.events) as numbers. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A single number, or 0 for "max" or a missing file. */
export function parseLimit(text: string): number {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : 0;
}

/** Sums rbytes/wbytes over every device line of io.stat. */
export function parseIoStat(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const m of text.matchAll(/\brbytes=(\d+)/g)) readBytes += Number(m[1]);
  for (const m of text.matchAll(/\bwbytes=(\d+)/g)) writeBytes += Number(m[1]);
  return { readBytes, writeBytes };
}

/**
 * The memory a cgroup may use: its own memory.max, or without one ("max")
 * its nearest ancestor's — for a container without a limit, the cap on all
 * containers below the VM's memory; 0 when nothing above caps it either.
 */
export function memoryLimit(dir: string): number {
  for (let d = dir; existsSync(`${d}/memory.max`); d = dirname(d)) {
    const limit = parseLimit(read(`${d}/memory.max`));
    if (limit > 0) return limit;
  }
  return 0;
}

export function readContainerStats(dir: string): ContainerStats {
  const cpu = parseKeyValues(read(`${dir}/cpu.stat`));
  const mem = parseKeyValues(read(`${dir}/memory.stat`));
  const events = parseKeyValues(read(`${dir}/memory.events`));
  return {
    cpu: {
      usageUsec: cpu.usage_usec ?? 0,
      userUsec: cpu.user_usec ?? 0,
      systemUsec: cpu.system_usec ?? 0,
      nrThrottled: cpu.nr_throttled ?? 0,
      throttledUsec: cpu.throttled_usec ?? 0,
    },
    memory: {
      usageBytes: parseLimit(read(`${dir}/memory.current`)),
      limitBytes: memoryLimit(dir),
      maxUsageBytes: parseLimit(read(`${dir}/memory.peak`)),
      cacheBytes: mem.file ?? 0,
      rssBytes: mem.anon ?? 0,
      oomKills: events.oom_kill ?? 0,
    },
    pids: { current: parseLimit(read(`${dir}/pids.current`)), limit: parseLimit(read(`${dir}/pids.max`)) },
    blkio: parseIoStat(read(`${dir}/io.stat`)),
    timestampMs: uptimeMs(),
  };
}

/** PIDs in a cgroup (cgroup.procs). */
export function cgroupPids(dir: string): number[] {
  return read(`${dir}/cgroup.procs`).split('\n').filter(Boolean).map(Number);
}
