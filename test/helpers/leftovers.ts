import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMemberships } from '@mayu/runtime';

/** PIDs of processes whose command line mentions `needle` (our own VMs: their state dir). */
export function processesMentioning(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The names in a directory, or [] when it does not exist. */
export function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every file and directory under `dir`, relative, or [] when it does not exist. */
export function filesUnder(dir: string, prefix = ''): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const rel = `${prefix}${e.name}`;
    return e.isDirectory() ? [`${rel}/`, ...filesUnder(`${dir}/${e.name}`, `${rel}/`)] : [rel];
  });
}

/** The mount points of the host's cgroup hierarchies (v1's and v2's), as the runtime finds them. */
export function cgroupMounts(): string[] {
  return cgroupMemberships().map((m) => m.mount);
}

/**
 * Removes a cgroup tree a test made (`path` in every hierarchy, deepest
 * first), as kubelet removes a pod's; returns the directories that still
 * held processes (left as they are: a leftover to report).
 */
/**
 * rmdir of an empty cgroup: a process that has just exited (a VM killed a
 * moment ago) can hold its cgroup busy for a little while after it left
 * cgroup.procs.
 */
function rmdirWhenReleased(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      return rmdirSync(dir);
    } catch (err) {
      // Gone already: its owner (a shim removing the cgroups it made) was quicker.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt >= 50) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

export function removeCgroupTree(path: string): string[] {
  const busy: string[] = [];
  const remove = (dir: string): void => {
    for (const e of entriesOf(dir)) if (statSync(join(dir, e), { throwIfNoEntry: false })?.isDirectory()) remove(join(dir, e));
    if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') busy.push(dir);
    else rmdirWhenReleased(dir);
  };
  for (const m of cgroupMounts()) if (existsSync(join(m, path))) remove(join(m, path));
  return busy;
}
