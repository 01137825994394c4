import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, realpathSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { MayuError } from '@mayu/protocol';
import { mountCommand, passedFd } from './mount-command.js';
import { openPathFd, type PathFd } from './path-fd.js';

/** Unescapes a mountinfo path field (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Paths mounted on the host under `dir` (from /proc/self/mountinfo), deepest first. */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((target) => target.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/**
 * How mounts the host makes under a bind mount's source later reach it:
 * `private` never, `slave` by propagation (one way: nothing made under the
 * bind reaches the source).
 */
export type Propagation = 'private' | 'slave';

export interface BindOptions {
  readOnly: boolean;
  /** rbind: the mounts under `source` come too (each given the same flags). */
  recursive?: boolean;
  /** How later host mounts under `source` reach the bind and its copies; private by default. */
  propagation?: Propagation;
  /**
   * Where propagation makes copies of this mount appear (the guest's
   * read-only view of the host-only tree): a remount never propagates, so
   * each copy gets the same flags explicitly.
   */
  copies?: string[];
}

/**
 * Bind-mounts `source` (a directory or a regular file, given by the caller
 * and resolved once) onto a new `target` that this call creates in a
 * host-only directory. Both ends are O_PATH fds (no symlink followed in the
 * last component) passed to mount(8) as /proc/self/fd/N. The mount, the
 * mounts under it (recursive) and their copies are nosuid and nodev,
 * read-only when asked, and private or slaves of the source as asked. On
 * failure nothing is left mounted or created.
 */
export async function bindMount(source: string, target: string, o: BindOptions): Promise<void> {
  let real: string;
  try {
    real = realpathSync(source);
  } catch (err) {
    throw new MayuError('ERR_INVALID_ARGUMENT', `${source} does not exist on the host`, { cause: err, details: { path: source, problem: 'does not exist on the host' } });
  }
  const src = openPathFd(real, 'directory-or-file');
  const isDir = src.stats.isDirectory();
  try {
    // Searchable, not listable: a user-namespaced container's mapped root must reach its rootfs through them (see SharedTree).
    mkdirSync(dirname(target), { recursive: true, mode: 0o711 });
    if (isDir) mkdirSync(target, { mode: 0o700 });
    else closeSync(openSync(target, 'wx', 0o600));
    const dst = openPathFd(target, isDir ? 'directory' : 'file');
    try {
      await mountCommand('mount', [o.recursive ? '--rbind' : '--bind', passedFd(0), passedFd(1)], [src.fd, dst.fd]);
    } finally {
      dst.close();
    }
  } catch (err) {
    removeTarget(target);
    throw err instanceof MayuError ? err : new MayuError('ERR_INTERNAL', `cannot bind ${source} onto ${target}: ${(err as Error).message}`, { cause: err });
  } finally {
    src.close();
  }
  const flags = ['bind', 'nosuid', 'nodev', ...(o.readOnly ? ['ro'] : [])];
  const propagation = o.propagation === 'slave' ? '--make-rslave' : '--make-rprivate';
  try {
    for (const path of [target, ...(o.copies ?? [])]) {
      // Each copy is made private or a slave itself: a copy made by
      // propagation is a slave of the source's peer group, whatever the
      // mount it copies becomes.
      await withPathFd(path, (fd) => mountCommand('mount', [propagation, passedFd(0)], [fd]));
      await remountTree(path, flags);
    }
  } catch (err) {
    for (const copy of o.copies ?? []) await detach(copy);
    await unmount(target);
    throw err;
  }
}

async function withPathFd<T>(path: string, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = openPathFd(path, 'directory-or-file');
  try {
    return await fn(fd.fd);
  } finally {
    fd.close();
  }
}

/**
 * Remounts the mount at `root` and every mount under it with `options`.
 * The mounts under it are inside a bind mount's source, which a guest may
 * be writing while this runs: each one is reached from an fd of `root` one
 * component at a time, never following a symlink, so a renamed or swapped
 * directory makes this fail instead of reaching outside `root`.
 */
async function remountTree(root: string, options: string[]): Promise<void> {
  await remount(root, options);
  const under = mountsUnder(root).reverse(); // outermost first
  for (const mount of under) {
    const walk = walkBeneath(root, mount.slice(root.length + 1));
    try {
      await mountCommand('mount', ['-o', ['remount', ...options].join(','), passedFd(0)], [walk.fd]);
    } finally {
      walk.close();
    }
  }
}

/** An O_PATH fd of `rel` under `root`, reached name by name with O_NOFOLLOW. */
export function walkBeneath(root: string, rel: string): PathFd {
  let current = openPathFd(root, 'directory-or-file');
  for (const name of rel.split('/')) {
    if (name === '' || name === '.' || name === '..') {
      current.close();
      throw new MayuError('ERR_INTERNAL', `refusing to walk ${JSON.stringify(rel)} under ${root}`);
    }
    try {
      const next = openPathFd(`/proc/self/fd/${current.fd}/${name}`, 'directory-or-file');
      current.close();
      current = next;
    } catch (err) {
      current.close();
      throw new MayuError('ERR_INTERNAL', `${rel} under ${root} changed while it was being remounted`, { cause: err });
    }
  }
  return current;
}

/** Lazily unmounts whatever is mounted at `path` (a copy in the guest's view), leaving the path. Never throws. */
export async function detach(path: string): Promise<void> {
  if (mountsUnder(dirname(path)).includes(path)) await mountCommand('umount', ['-l', path]).catch(() => {});
}

/** Changes the flags of the mount at `path` (opened O_PATH, no symlink followed). */
export async function remount(path: string, options: string[]): Promise<void> {
  await withPathFd(path, (fd) => mountCommand('mount', ['-o', ['remount', ...options].join(','), passedFd(0)], [fd]));
}

/**
 * Lazily unmounts `target` (a path in a host-only directory) if it is
 * mounted, then removes the empty directory or file it was mounted on.
 * Never recursive: if something is still mounted there, it stays. Never throws.
 */
export async function unmount(target: string): Promise<void> {
  await detach(target);
  removeTarget(target);
}

function removeTarget(target: string): void {
  try {
    rmdirSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      try {
        unlinkSync(target);
      } catch {
        // gone, or still mounted
      }
    }
  }
}

/**
 * Removes a directory that may still hold mounts (a sandbox's state
 * directory after a crash): everything mounted under it is unmounted first,
 * deepest first, so that removing it can never reach into a container's
 * rootfs or volumes. Refuses (ERR_INTERNAL) if a mount is left.
 */
export function removeDirSafely(dir: string): void {
  for (const target of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['--no-canonicalize', '-l', target], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // checked below
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new MayuError('ERR_INTERNAL', `refusing to remove ${dir}: still mounted: ${left.join(', ')}`, { details: { left } });
  rmSync(dir, { recursive: true, force: true });
}
