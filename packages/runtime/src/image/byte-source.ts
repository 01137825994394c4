/**
 * Pulls bytes from an async stream of chunks (a Node Readable, a generator)
 * in the sizes a parser asks for, keeping at most one chunk in hand. The tar
 * reader takes headers whole (`read`) and file contents chunk by chunk
 * (`chunk`), so a file is never held in memory whole.
 */
export class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private head: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes handed out so far (the stream offset of the next byte). */
  offset = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Up to `max` bytes of what is available next; null at the end of the stream. */
  async chunk(max: number): Promise<Buffer | null> {
    while (this.head.length === 0) {
      if (this.ended) return null;
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.head = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    const out = this.head.subarray(0, max);
    this.head = this.head.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /** Exactly `n` bytes, or fewer where the stream ends first. Buffers them: keep `n` small. */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) break;
      parts.push(c);
      got += c.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, got);
  }

  /** Skips `n` bytes; returns how many there were (fewer where the stream ends first). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const c = await this.chunk(Math.min(left, 1 << 20));
      if (!c) break;
      left -= c.length;
    }
    return n - left;
  }
}
