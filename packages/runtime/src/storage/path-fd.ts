import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { MayuError } from '@mayu/protocol';

/** O_PATH (Linux): an fd that names a file without opening it for I/O. Node has no constant for it. */
const O_PATH = 0o10000000;

export type PathKind = 'directory' | 'file' | 'directory-or-file';

export interface PathFd {
  fd: number;
  stats: Stats;
  close(): void;
}

/**
 * An O_PATH fd of `path` that never followed a symlink in its last
 * component (O_NOFOLLOW): a symlink put there — by a guest, or by anyone
 * racing us — is refused instead of followed. The fd is what a mount is made
 * from or onto, through /proc/self/fd/N, so the object checked here is the
 * object used: a path swapped afterwards changes nothing.
 */
export function openPathFd(path: string, kind: PathKind): PathFd {
  let fd: number;
  try {
    fd = openSync(path, O_PATH | constants.O_NOFOLLOW | (kind === 'directory' ? constants.O_DIRECTORY : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'ELOOP' ? 'is a symlink or not a directory' : code === 'ENOENT' ? 'does not exist' : `cannot be opened (${code})`;
    throw new MayuError('ERR_INVALID_ARGUMENT', `${path} ${why}`, { cause: err, details: { path, problem: why } });
  }
  const stats = fstatSync(fd);
  const ok = stats.isDirectory() || (kind !== 'directory' && stats.isFile());
  if (!ok) {
    closeSync(fd);
    const what = stats.isSymbolicLink() ? 'a symlink' : 'neither a directory nor a regular file';
    throw new MayuError('ERR_INVALID_ARGUMENT', `${path} is ${what}`, { details: { path, problem: `is ${what}` } });
  }
  return { fd, stats, close: () => closeSync(fd) };
}
