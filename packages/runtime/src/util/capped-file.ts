import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * Appends bytes to a file up to `maxBytes`, then writes one truncation note
 * and drops the rest: a guest cannot fill the host's disk through it.
 */
export class CappedFile {
  private fd: number | null;
  private written = 0;
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.fd = openSync(path, 'a', 0o640);
  }

  write(chunk: Buffer): void {
    if (this.fd === null) return;
    const room = this.maxBytes - this.written;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    writeSync(this.fd, part);
    this.written += part.length;
    if (part.length < chunk.length) {
      this.dropped += chunk.length - part.length;
      writeSync(this.fd, `\n[mayu: output truncated at ${this.maxBytes} bytes]\n`);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
