import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** One cgroup hierarchy this process is in: where it is mounted, and the process's cgroup directory in it. */
interface Membership {
  version: 1 | 2;
  mount: string;
  dir: string;
}

/** The hierarchies of /proc/self/cgroup with their mount points (v1 by the controllers among a mount's options, v2 by type). */
function memberships(): Membership[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .flatMap((line) => {
      const [pre, post] = line.split(' - ');
      const f = pre?.split(' ') ?? [];
      const [fstype, , superOpts = ''] = post?.split(' ') ?? [];
      if (fstype !== 'cgroup' && fstype !== 'cgroup2') return [];
      return [{ fstype, root: f[3] ?? '/', point: (f[4] ?? '').replace(/\\040/g, ' '), opts: superOpts.split(',') }];
    });
  return readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .flatMap((line): Membership[] => {
      const m = /^(\d+):([^:]*):(.*)$/.exec(line);
      if (!m) return [];
      const [, id, controllers = '', path = '/'] = m;
      const mount =
        id === '0' && controllers === '' ? mounts.find((x) => x.fstype === 'cgroup2') : mounts.find((x) => x.fstype === 'cgroup' && controllers.split(',').every((c) => x.opts.includes(c)));
      if (!mount) return [];
      return [{ version: mount.fstype === 'cgroup2' ? 2 : 1, mount: mount.point, dir: join(mount.point, relative(mount.root, path)) }];
    });
}

/**
 * Moves this process (and so what it starts later) out of the cgroup it was
 * started in, which its starter may remove with everything in it (cri-o
 * kills what is left in a container's conmon cgroup when the container is
 * removed): in each hierarchy where it is below the root, into the parent
 * (cgroup v1), or into a leaf `name` beside it (v2, where a parent with
 * children may hold no process). Returns what puts the process in the root
 * cgroups and removes the leaves, for its end. Failures are reported to
 * `onError`, hierarchy by hierarchy; the process stays where it was there.
 */
export function leaveStartingCgroup(name: string, onError: (dir: string, err: unknown) => void): () => void {
  const leaves: Membership[] = [];
  for (const m of memberships()) {
    if (m.dir === m.mount) continue;
    const target = m.version === 1 ? dirname(m.dir) : join(dirname(m.dir), name);
    try {
      if (m.version === 2) mkdirSync(target, { recursive: true });
      writeFileSync(join(target, 'cgroup.procs'), String(process.pid));
      if (m.version === 2) leaves.push({ ...m, dir: target });
    } catch (err) {
      onError(target, err);
    }
  }
  return () => {
    for (const leaf of leaves) {
      try {
        writeFileSync(join(leaf.mount, 'cgroup.procs'), String(process.pid));
        rmdirSync(leaf.dir);
      } catch (err) {
        onError(leaf.dir, err);
      }
    }
  };
}
