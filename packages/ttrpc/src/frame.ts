/**
 * ttrpc framing: a 10-byte big-endian header (data length u32, stream id
 * u32, type u8, flags u8), then the data.
 */
export const HEADER_SIZE = 10;
/** The largest data a frame may carry; a larger one is read, dropped and answered with RESOURCE_EXHAUSTED. */
export const MAX_DATA_SIZE = 4 << 20;

export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  data: Buffer;
}

/** A frame whose data was too large: its data was discarded. */
export interface OversizedFrame {
  streamId: number;
  type: number;
  length: number;
}

export function encodeFrame(streamId: number, type: MessageType, data: Uint8Array, flags = 0): Buffer {
  if (data.length > MAX_DATA_SIZE) throw new RangeError(`ttrpc frame data of ${data.length} bytes exceeds ${MAX_DATA_SIZE}`);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + data.length);
  frame.writeUInt32BE(data.length, 0);
  frame.writeUInt32BE(streamId >>> 0, 4);
  frame.writeUInt8(type, 8);
  frame.writeUInt8(flags, 9);
  Buffer.from(data.buffer, data.byteOffset, data.length).copy(frame, HEADER_SIZE);
  return frame;
}

/**
 * Turns a byte stream into frames. Never holds more than one maximal frame:
 * the data of an oversized frame is skipped as it arrives and reported once,
 * so random or hostile input cannot make it grow or throw.
 */
export class FrameReader {
  /** Received bytes not yet made into frames (kept as chunks: no copying per push). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized frame still to skip. */
  private skipping = 0;

  push(chunk: Buffer): { frames: Frame[]; oversized: OversizedFrame[] } {
    const frames: Frame[] = [];
    const oversized: OversizedFrame[] = [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.skipping > 0) {
        this.skipping -= this.consume(Math.min(this.skipping, this.buffered)).length;
        if (this.skipping > 0) break;
      }
      if (this.buffered < HEADER_SIZE) break;
      const header = this.peek(HEADER_SIZE);
      const length = header.readUInt32BE(0);
      const streamId = header.readUInt32BE(4);
      const type = header.readUInt8(8);
      const flags = header.readUInt8(9);
      if (length > MAX_DATA_SIZE) {
        oversized.push({ streamId, type, length });
        this.consume(HEADER_SIZE);
        this.skipping = length;
        continue;
      }
      if (this.buffered < HEADER_SIZE + length) break;
      this.consume(HEADER_SIZE);
      frames.push({ streamId, type, flags, data: Buffer.from(this.consume(length)) });
    }
    return { frames, oversized };
  }

  /** The first n buffered bytes (n <= buffered), left in place. */
  private peek(n: number): Buffer {
    if ((this.chunks[0]?.length ?? 0) < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const out = this.peek(n);
    const first = this.chunks[0];
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
