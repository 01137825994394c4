import { closeSync, constants, openSync, writeSync } from 'node:fs';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

/**
 * Creates the file `path` (never over an existing one, never through a
 * symlink: O_EXCL|O_NOFOLLOW), mode 0600, writes `body` into it chunk by
 * chunk, and hands the fd to `finish` (owner, mode, times) before closing.
 */
export async function writeNewFile(path: string, body: AsyncIterable<Buffer>, finish?: (fd: number) => void): Promise<void> {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) {
      for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    finish?.(fd);
  } finally {
    closeSync(fd);
  }
}
