import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { MayuError } from '@mayu/protocol';

/** One cgroup hierarchy this process is in: where it is mounted, and the process's cgroup directory in it. */
export interface Membership {
  version: 1 | 2;
  mount: string;
  dir: string;
}

/** The hierarchies of /proc/self/cgroup with their mount points (v1 by the controllers among a mount's options, v2 by type). */
export function memberships(): Membership[] {
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

/**
 * A spec's `linux.cgroupsPath` as a path inside each hierarchy: cgroupfs's
 * form as it is (`/kubepods/burstable/pod<uid>/<id>`), systemd's
 * `slice:prefix:name` as the directories systemd gives it
 * (`/kubepods.slice/kubepods-burstable.slice/…/prefix-name.scope`). Relative
 * or with `.`/`..` steps is INVALID_ARGUMENT naming the field.
 */
export function cgroupDirOf(cgroupsPath: string): string {
  const refuse = (why: string) => new MayuError('ERR_INVALID_ARGUMENT', `linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: ${why}`);
  let path = cgroupsPath;
  const systemd = /^([^/:]*):([^/:]+):([^/:]+)$/.exec(cgroupsPath);
  if (systemd) {
    const [, slice = '', prefix, name] = systemd;
    if (slice !== '' && !slice.endsWith('.slice')) throw refuse('a systemd slice must end in .slice');
    // Each dash-separated prefix of a slice is a parent slice: a-b-c.slice is in a.slice/a-b.slice.
    const parts = slice === '' ? [] : slice.slice(0, -'.slice'.length).split('-');
    if (parts.some((p) => p === '')) throw refuse('a systemd slice name has an empty part');
    path = '/' + [...parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`), `${prefix}-${name}.scope`].join('/');
  }
  if (!path.startsWith('/')) throw refuse('not an absolute path (cgroupfs) or slice:prefix:name (systemd)');
  if (path.includes('\0') || path.split('/').some((step) => step === '.' || step === '..')) throw refuse('it may not step up or hold NUL');
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') throw refuse("the root cgroup is not a pod's");
  return trimmed;
}

/** Where a process joined its pod's cgroups: the directories made for it (deepest first), to remove at its end. */
export interface PodCgroupPlacement {
  /** In every hierarchy, the pod's cgroup directory this process is in now. */
  dirs: string[];
  /** The directories it made, deepest first: what `leave` removes, or removeCgroupDirs should this process die. */
  made: string[];
  /** Puts this process back where it was and removes the directories `joinPodCgroup` made (each must be empty by then). */
  leave(): void;
}

/** cpuset (v1) gives a new cgroup no CPUs or memory nodes: a process cannot join it before they are copied from its parent. */
function inheritCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = join(dir, file);
    if (existsSync(own) && readFileSync(own, 'utf8').trim() === '') writeFileSync(own, readFileSync(join(dirname(dir), file), 'utf8').trim());
  }
}

/**
 * cgroup v2 with controllers: each level down to the pod's cgroup delegates
 * the ones it has, as runc's cgroupfs driver does, so that the pod's
 * memory.current and cpu.stat exist. Each controller alone: one a level
 * cannot enable (threaded, or busy) leaves the others.
 */
function delegateControllers(mount: string, dir: string): void {
  const steps = relative(mount, dir).split('/');
  for (let i = 0; i < steps.length; i++) {
    const level = join(mount, ...steps.slice(0, i));
    const available = readFileSync(join(level, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    const enabled = new Set(readFileSync(join(level, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/));
    for (const c of available.filter((c) => !enabled.has(c)))
      try {
        writeFileSync(join(level, 'cgroup.subtree_control'), `+${c}`);
      } catch {
        // Some controllers cannot be enabled at some levels; the rest still are.
      }
  }
}

/**
 * Moves this process (and so everything it starts after: QEMU, its
 * helpers) into the pod's cgroup `cgroupsPath` (see cgroupDirOf) in every
 * hierarchy it is in, making what is missing — as runc puts a pod's sandbox
 * process there — so that the host counts the VM where kubelet looks: in
 * the pod's cgroup. Refused paths throw; a hierarchy that cannot be joined
 * goes to `onError` and the process stays where it was there.
 */
export function joinPodCgroup(cgroupsPath: string, onError: (dir: string, err: unknown) => void): PodCgroupPlacement {
  const path = cgroupDirOf(cgroupsPath);
  const made: string[] = [];
  const dirs: string[] = [];
  const before = memberships();
  for (const m of before) {
    const dir = join(m.mount, path);
    try {
      const missing: string[] = [];
      for (let d = dir; d !== m.mount && !existsSync(d); d = dirname(d)) missing.unshift(d);
      for (const d of missing) {
        mkdirSync(d);
        made.unshift(d);
        if (m.version === 1) inheritCpuset(d);
      }
      if (m.version === 2) delegateControllers(m.mount, dir);
      writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
      dirs.push(dir);
    } catch (err) {
      onError(dir, err);
    }
  }
  return {
    dirs,
    made,
    leave: () => {
      for (const m of before)
        try {
          writeFileSync(join(m.dir, 'cgroup.procs'), String(process.pid));
        } catch {
          try {
            writeFileSync(join(m.mount, 'cgroup.procs'), String(process.pid));
          } catch (err) {
            onError(m.dir, err);
          }
        }
      removeCgroupDirs(made, onError);
    },
  };
}

/**
 * Removes cgroup directories (deepest first, as given), each only if empty
 * of processes and children. Gone already is fine, and so is a parent still
 * in use (another task's cgroup made beside ours, such as ctr's
 * `/default/<id>`): only the pods' own (no parent of another listed) must go.
 */
export function removeCgroupDirs(dirs: string[], onError: (dir: string, err: unknown) => void): void {
  for (const dir of dirs)
    try {
      rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = dirs.some((other) => other.startsWith(`${dir}/`));
      if (code !== 'ENOENT' && !(parent && (code === 'EBUSY' || code === 'ENOTEMPTY'))) onError(dir, err);
    }
}

/**
 * Bounds the memory of the cgroups in `dirs` (a pod's, in every hierarchy)
 * at `bytes`: memory.max where it is cgroup v2, memory.limit_in_bytes in a
 * v1 memory hierarchy; hierarchies without a memory controller are skipped.
 * Answers the files written.
 */
export function limitCgroupMemory(dirs: readonly string[], bytes: number, onError: (file: string, err: unknown) => void): string[] {
  const written: string[] = [];
  for (const dir of dirs) {
    const file = [join(dir, 'memory.max'), join(dir, 'memory.limit_in_bytes')].find((f) => existsSync(f));
    if (!file) continue;
    try {
      writeFileSync(file, String(bytes));
      written.push(file);
    } catch (err) {
      onError(file, err);
    }
  }
  return written;
}
