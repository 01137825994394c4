import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { CGROUP_ROOT, CONTAINER_CGROUP_PARENT } from '../stats/cgroup-stats.js';

/**
 * Delegates every available cgroup v2 controller to /sys/fs/cgroup/mayu,
 * the parent of the containers' cgroups, so that their resource limits and
 * statistics work.
 */
export function setUpCgroups(log: Logger): void {
  try {
    const available = readFileSync(`${CGROUP_ROOT}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const enable = available.map((c) => `+${c}`).join(' ');
    writeFileSync(`${CGROUP_ROOT}/cgroup.subtree_control`, enable);
    mkdirSync(`${CGROUP_ROOT}/${CONTAINER_CGROUP_PARENT}`, { recursive: true });
    writeFileSync(`${CGROUP_ROOT}/${CONTAINER_CGROUP_PARENT}/cgroup.subtree_control`, enable);
    log.debug({ controllers: available }, 'cgroup controllers delegated');
  } catch (err) {
    log.warn({ err }, 'cannot set up cgroup controllers: container limits and stats will not work');
  }
}
