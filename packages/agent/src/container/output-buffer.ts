import type { Readable } from 'node:stream';

/** What one ReadStdout/ReadStderr may return at most. */
export const MAX_READ = 1 << 20;

/**
 * A process's stdout or stderr, kept for the host to read with
 * ReadStdout/ReadStderr: a read waits until there is data or the stream has
 * ended (then it returns an empty buffer). At most `maxBytes` are held; the
 * process is paused (its pipe fills) until the host reads.
 */
export class OutputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private eof = false;
  private readonly waiters: (() => void)[] = [];
  private readonly endWaiters: (() => void)[] = [];

  constructor(
    private readonly source: Readable | null,
    private readonly maxBytes = 4 * MAX_READ,
  ) {
    if (!source) {
      this.eof = true;
      return;
    }
    source.on('data', (c: Buffer) => this.push(c));
    source.on('end', () => this.finish());
    source.on('close', () => this.finish());
    // A terminal's master reads EIO once the last holder of its slave is gone: that is its end.
    source.on('error', () => this.finish());
  }

  get ended(): boolean {
    return this.eof;
  }

  /** Resolves once the source has ended (whether or not everything was read). */
  whenEnded(): Promise<void> {
    return this.eof ? Promise.resolve() : new Promise((resolve) => this.endWaiters.push(resolve));
  }

  async read(maxLen: number): Promise<Buffer> {
    const limit = Math.max(1, Math.min(maxLen || MAX_READ, MAX_READ));
    while (this.size === 0 && !this.eof) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.size === 0) return Buffer.alloc(0);
    const out: Buffer[] = [];
    let taken = 0;
    while (taken < limit && this.chunks.length > 0) {
      const head = this.chunks[0];
      const part = head.subarray(0, limit - taken);
      out.push(part);
      taken += part.length;
      if (part.length === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(part.length);
    }
    this.size -= taken;
    if (this.size < this.maxBytes && this.source?.isPaused()) this.source.resume();
    return Buffer.concat(out);
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.maxBytes) this.source?.pause();
    this.wake();
  }

  private finish(): void {
    if (this.eof) return;
    this.eof = true;
    this.wake();
    for (const w of this.endWaiters.splice(0)) w();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
