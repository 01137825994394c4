import { lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { MayuError } from '@mayu/protocol';

/** As Linux's MAXSYMLINKS: more symlinks than this on one path is a loop. */
export const MAX_SYMLINK_HOPS = 40;

/** `root`/`rel...`: a host path for components already resolved beneath root. */
export function hostPath(root: string, rel: readonly string[]): string {
  return rel.length === 0 ? root : join(root, ...rel);
}

/** lstat, or null where nothing is there. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface ResolveOptions {
  /** Make missing directories (mode 0700; the caller sets modes later). */
  create: boolean;
  /** Told of each directory made, by its resolved components. */
  onCreate?: (rel: string[]) => void;
}

/**
 * Resolves the directory `components` beneath `root` as if `root` were the
 * file system root (chroot semantics, like Go's securejoin): components are
 * looked at one by one with lstat, a symlink met on the way is read and its
 * target resolved inside root (an absolute target starts again at root, ".."
 * stops at root), and more than 40 symlinks is an error. Returns the resolved
 * components: every one a real directory under root, no symlink among them.
 * Where a directory is missing (or not a directory) and `create` is false,
 * returns null.
 *
 * Not racy only because nobody else writes beneath root while we do (the
 * tree is private: built in a fresh 0700 directory).
 */
export function resolveInRoot(root: string, components: readonly string[], opts: ResolveOptions): string[] | null {
  const resolved: string[] = [];
  const todo = [...components].reverse();
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.pop() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const path = join(hostPath(root, resolved), c);
    const st = lstatOrNull(path);
    if (st?.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new MayuError('ERR_INVALID_ARGUMENT', `path ${JSON.stringify(components.join('/'))} meets more than ${MAX_SYMLINK_HOPS} symlinks (a loop?)`);
      }
      const target = readlinkSync(path);
      if (target.startsWith('/')) resolved.length = 0;
      todo.push(...target.split('/').reverse());
      continue;
    }
    if (st && !st.isDirectory()) {
      if (!opts.create) return null;
      throw new MayuError('ERR_INVALID_ARGUMENT', `path ${JSON.stringify(components.join('/'))}: ${JSON.stringify([...resolved, c].join('/'))} is not a directory`);
    }
    if (!st) {
      if (!opts.create) return null;
      mkdirSync(path, { mode: 0o700 });
      opts.onCreate?.([...resolved, c]);
    }
    resolved.push(c);
  }
  return resolved;
}

/** Whether every one of `rel` (from root down) is a real directory, no symlink among them. */
export function isPlainDirectory(root: string, rel: readonly string[]): boolean {
  for (let i = 1; i <= rel.length; i++) {
    if (!lstatOrNull(hostPath(root, rel.slice(0, i)))?.isDirectory()) return false;
  }
  return true;
}
