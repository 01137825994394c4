import { crc32 } from 'node:zlib';

/**
 * Frames of the mayu serial channel protocol. A virtio-serial port is one
 * byte stream that outlives any host connection, and QEMU hands bytes left
 * over from one host connection to the next. Every byte therefore travels in
 * a frame that names its session, with a checksummed header so that a reader
 * dropped into the middle of stale data finds the next real frame.
 *
 *   offset  size  field
 *        0     4  magic "MYU1"
 *        4     1  type (FrameType)
 *        5     3  zero
 *        8     4  session id (u32 BE), chosen by the host per session
 *       12     4  payload length (u32 BE), at most MAX_FRAME_PAYLOAD
 *       16     4  CRC-32 of bytes 0..15 (u32 BE)
 *       20     n  payload
 */
export const FRAME_MAGIC = Buffer.from('MYU1', 'latin1');
export const FRAME_HEADER_SIZE = 20;
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export const FrameType = {
  /** host → guest: start session `session`; payload: protocol version. */
  Hello: 1,
  /** guest → host: session `session` is now the current one. */
  Welcome: 2,
  /** either way: payload bytes of the session. */
  Data: 3,
  /** either way: the sender has ended the session. */
  Close: 4,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const CHANNEL_PROTOCOL_VERSION = 1;

export interface Frame {
  type: FrameType;
  session: number;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function encodeFrame(type: FrameType, session: number, payload: Buffer = EMPTY): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  FRAME_MAGIC.copy(frame, 0);
  frame.writeUInt8(type, 4);
  frame.writeUIntBE(0, 5, 3);
  frame.writeUInt32BE(session >>> 0, 8);
  frame.writeUInt32BE(payload.length, 12);
  frame.writeUInt32BE(crc32(frame.subarray(0, 16)), 16);
  payload.copy(frame, FRAME_HEADER_SIZE);
  return frame;
}

/** Encodes `data` as as many Data frames as its length needs. */
export function encodeData(session: number, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_FRAME_PAYLOAD) {
    frames.push(encodeFrame(FrameType.Data, session, data.subarray(off, off + MAX_FRAME_PAYLOAD)));
  }
  return frames;
}

function headerIsValid(buf: Buffer): boolean {
  const type = buf.readUInt8(4);
  return (
    type >= FrameType.Hello &&
    type <= FrameType.Close &&
    buf.readUIntBE(5, 3) === 0 &&
    buf.readUInt32BE(12) <= MAX_FRAME_PAYLOAD &&
    buf.readUInt32BE(16) === crc32(buf.subarray(0, 16))
  );
}

/**
 * Turns a byte stream into frames. Bytes that are not part of a valid frame
 * (stale or corrupt data) are skipped and counted in `discardedBytes`; the
 * decoder never holds more than one maximal frame.
 */
export class FrameDecoder {
  discardedBytes = 0;
  private buf: Buffer = EMPTY;

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const start = this.buf.indexOf(FRAME_MAGIC);
      if (start < 0) {
        // Keep a tail that could be the start of a magic split across chunks.
        this.discard(Math.max(0, this.buf.length - (FRAME_MAGIC.length - 1)));
        return frames;
      }
      this.discard(start);
      if (this.buf.length < FRAME_HEADER_SIZE) return frames;
      if (!headerIsValid(this.buf)) {
        this.discard(1);
        continue;
      }
      const length = this.buf.readUInt32BE(12);
      if (this.buf.length < FRAME_HEADER_SIZE + length) return frames;
      frames.push({
        type: this.buf.readUInt8(4) as FrameType,
        session: this.buf.readUInt32BE(8),
        payload: Buffer.from(this.buf.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + length)),
      });
      this.buf = this.buf.subarray(FRAME_HEADER_SIZE + length);
    }
  }

  /** Drops whatever partial frame is buffered (the stream was reset). */
  reset(): void {
    this.discard(this.buf.length);
  }

  private discard(n: number): void {
    if (n <= 0) return;
    this.discardedBytes += n;
    this.buf = this.buf.subarray(n);
  }
}
