import { closeSync, openSync, writeSync } from 'node:fs';

/** The note written once the cap is reached. */
export const truncationNote = (maxBytes: number): string => `\n[mayu: output truncated at ${maxBytes} bytes]\n`;

/**
 * Appends bytes to a file up to `maxBytes`, then writes one truncation note
 * (see truncationNote) and drops the rest: a guest cannot fill the host's
 * disk through it. This instance adds at most maxBytes plus the note to the
 * file. A failed write (disk full, I/O error) closes the file and counts the
 * rest as dropped instead of throwing into the caller (a stream handler).
 */
export class CappedFile {
  private fd: number | null;
  private written = 0;
  private noted = false;
  dropped = 0;
  /** The write error that closed the file, if any. */
  error: Error | null = null;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.fd = openSync(path, 'a', 0o640);
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const part = chunk.subarray(0, Math.max(0, this.maxBytes - this.written));
    const before = this.written;
    try {
      if (this.fd !== null) this.writeAll(part);
      if (this.fd !== null && part.length < chunk.length && !this.noted) {
        this.noted = true;
        writeSync(this.fd, truncationNote(this.maxBytes));
      }
    } catch (err) {
      this.error = err as Error;
      this.close();
    }
    this.dropped += chunk.length - (this.written - before);
  }

  close(): void {
    const fd = this.fd;
    this.fd = null;
    try {
      if (fd !== null) closeSync(fd);
    } catch {
      // Nothing more can be done with it.
    }
  }

  /** Writes all of `part` (writeSync may write less than asked). */
  private writeAll(part: Buffer): void {
    for (let off = 0; off < part.length;) {
      const n = writeSync(this.fd!, part, off);
      if (n <= 0) throw new Error(`${this.path}: write made no progress`);
      off += n;
      this.written += n;
    }
  }
}
