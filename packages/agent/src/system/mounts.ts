import { mkdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { MS, sys } from './sys.js';

export interface MountSpec {
  source: string;
  target: string;
  fstype: string;
  flags: number;
  data?: string;
}

/** The filesystems the guest needs before it can run containers. */
export const SYSTEM_MOUNTS: readonly MountSpec[] = [
  { source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC },
  { source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC },
  { source: 'devtmpfs', target: '/dev', fstype: 'devtmpfs', flags: MS.NOSUID, data: 'mode=0755' },
  { source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620' },
  { source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=1777' },
  { source: 'run', target: '/run', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=0755' },
  { source: 'tmp', target: '/tmp', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=1777' },
  { source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'nsdelegate' },
];

/** Mount points currently mounted, from /proc/self/mountinfo. */
export function mountedTargets(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): Set<string> {
  const targets = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const target = line.split(' ')[4];
    if (target) targets.add(target.replace(/\\040/g, ' '));
  }
  return targets;
}

/** Mounts every system filesystem that is not mounted yet (mayu-init mounts the first three). */
export function mountSystem(log: Logger): void {
  let mounted = mountedTargets();
  for (const m of SYSTEM_MOUNTS) {
    if (mounted.has(m.target)) continue;
    mkdirSync(m.target, { recursive: true });
    sys().mount(m.source, m.target, m.fstype, m.flags, m.data ?? null);
    log.debug({ target: m.target, fstype: m.fstype }, 'mounted');
    if (m.target === '/proc') mounted = mountedTargets();
  }
}
