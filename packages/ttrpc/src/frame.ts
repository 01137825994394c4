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
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized frame still to skip. */
  private skipping = 0;

  push(chunk: Buffer): { frames: Frame[]; oversized: OversizedFrame[] } {
    const frames: Frame[] = [];
    const oversized: OversizedFrame[] = [];
    let data = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.skipping > 0) {
        const n = Math.min(this.skipping, data.length);
        this.skipping -= n;
        data = data.subarray(n);
        if (this.skipping > 0) break;
      }
      if (data.length < HEADER_SIZE) break;
      const length = data.readUInt32BE(0);
      const streamId = data.readUInt32BE(4);
      const type = data.readUInt8(8);
      const flags = data.readUInt8(9);
      if (length > MAX_DATA_SIZE) {
        oversized.push({ streamId, type, length });
        this.skipping = length;
        data = data.subarray(HEADER_SIZE);
        continue;
      }
      if (data.length < HEADER_SIZE + length) break;
      frames.push({ streamId, type, flags, data: Buffer.from(data.subarray(HEADER_SIZE, HEADER_SIZE + length)) });
      data = data.subarray(HEADER_SIZE + length);
    }
    this.buf = Buffer.from(data);
    return { frames, oversized };
  }
}
