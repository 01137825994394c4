import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { CGROUP_ROOT, CONTAINER_CGROUP_PARENT } from '../stats/cgroup-stats.js';

/** Guest memory the containers together never get: the agent's, init's and the kernel's. */
export const AGENT_MEMORY_RESERVE = 128 * 1048576;

/** Process ids the containers together never get: the agent's, its crun's, init's. */
export const AGENT_PIDS_RESERVE = 1024;

/**
 * What the containers together may use of `memTotal` bytes: all but a
 * reserve of a quarter of it, at most AGENT_MEMORY_RESERVE.
 */
export function containersMemoryMax(memTotal: number): number {
  return memTotal - Math.min(AGENT_MEMORY_RESERVE, Math.floor(memTotal / 4));
}

/** The guest's memory (MemTotal), in bytes; 0 when unreadable. */
export function guestMemTotal(meminfo = '/proc/meminfo'): number {
  return Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(meminfo, 'utf8'))?.[1] ?? 0) * 1024;
}

/**
 * Caps the containers together at containersMemoryMax(memTotal) — at boot,
 * and again each time the VM grows. Answers the cap (0: none written).
 */
export function capContainersMemory(memTotal: number, root = CGROUP_ROOT): number {
  const memoryMax = memTotal > 0 ? containersMemoryMax(memTotal) : 0;
  if (memoryMax > 0) writeFileSync(`${root}/${CONTAINER_CGROUP_PARENT}/memory.max`, String(memoryMax));
  return memoryMax;
}

/**
 * Delegates every available cgroup v2 controller to /sys/fs/cgroup/mayu,
 * the parent of the containers' cgroups, so that their resource limits and
 * statistics work, and caps the containers' memory and process ids
 * together below the guest's: memory they exhaust is reclaimed or OOM-killed inside their own
 * cgroups, never the agent (the kernel's global OOM killer would pick the
 * largest process, which the agent can be).
 */
export function setUpCgroups(log: Logger): void {
  try {
    const available = readFileSync(`${CGROUP_ROOT}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const enable = available.map((c) => `+${c}`).join(' ');
    writeFileSync(`${CGROUP_ROOT}/cgroup.subtree_control`, enable);
    mkdirSync(`${CGROUP_ROOT}/${CONTAINER_CGROUP_PARENT}`, { recursive: true });
    writeFileSync(`${CGROUP_ROOT}/${CONTAINER_CGROUP_PARENT}/cgroup.subtree_control`, enable);
    const memTotal = guestMemTotal();
    const memoryMax = capContainersMemory(memTotal);
    // A fork bomb without a pids limit of its own (Kubernetes sets one per pod) leaves the agent pids to run crun with.
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    if (available.includes('pids') && pidMax > 2 * AGENT_PIDS_RESERVE) writeFileSync(`${CGROUP_ROOT}/${CONTAINER_CGROUP_PARENT}/pids.max`, String(pidMax - AGENT_PIDS_RESERVE));
    log.debug({ controllers: available, memTotal, containersMemoryMax: memoryMax }, 'cgroup controllers delegated');
  } catch (err) {
    log.warn({ err }, 'cannot set up cgroup controllers: container limits and stats will not work');
  }
}
