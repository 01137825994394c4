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
  return type >= FrameType.Hello && type <= FrameType.Close && buf.readUIntBE(5, 3) === 0 && buf.readUInt32BE(12) <= MAX_FRAME_PAYLOAD && buf.readUInt32BE(16) === crc32(buf.subarray(0, 16));
}

/**
 * Turns a byte stream into frames. Bytes that are not part of a valid frame
 * (stale or corrupt data) are skipped and counted in `discardedBytes`. The
 * input is untrusted (it comes from the guest), so:
 * - the decoder never holds more than one maximal frame (`buffered`);
 * - its total work is linear in its input however the stream is split: while
 *   a frame is incomplete, chunks are queued and joined once it is whole, and
 *   each byte is scanned for the magic at most once plus a header's worth.
 *
 * A header that is valid but belongs to a truncated frame (the sender died
 * mid-frame) takes the bytes that follow as its payload; the frame format has
 * no payload checksum, so the frames it swallows are lost. Sessions recover
 * from this with Hello's resend and their own timeouts.
 */
export class FrameDecoder {
  discardedBytes = 0;
  /** The head of the stream, contiguous. */
  private buf: Buffer = EMPTY;
  /** Chunks after `buf`, queued until `buffered` reaches `need`. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private need = 0;
  private work = 0;

  /** Bytes held for a frame not yet complete: at most FRAME_HEADER_SIZE + MAX_FRAME_PAYLOAD. */
  get buffered(): number {
    return this.buf.length + this.queuedBytes;
  }

  /** Bytes copied or scanned so far: grows linearly with the input (tests assert it). */
  get workBytes(): number {
    return this.work;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length === 0) return [];
    if (this.buffered + chunk.length < this.need) {
      this.queued.push(chunk);
      this.queuedBytes += chunk.length;
      return [];
    }
    this.join(chunk);
    const frames: Frame[] = [];
    for (;;) {
      const start = this.buf.indexOf(FRAME_MAGIC);
      this.work += start < 0 ? this.buf.length : start + FRAME_MAGIC.length;
      if (start < 0) {
        // Keep a tail that could be the start of a magic split across chunks.
        this.discard(Math.max(0, this.buf.length - (FRAME_MAGIC.length - 1)));
        break;
      }
      this.discard(start);
      if (this.buf.length < FRAME_HEADER_SIZE) {
        this.need = FRAME_HEADER_SIZE;
        break;
      }
      this.work += FRAME_HEADER_SIZE;
      if (!headerIsValid(this.buf)) {
        this.discard(1);
        continue;
      }
      const size = FRAME_HEADER_SIZE + this.buf.readUInt32BE(12);
      if (this.buf.length < size) {
        this.need = size;
        break;
      }
      frames.push({
        type: this.buf.readUInt8(4) as FrameType,
        session: this.buf.readUInt32BE(8),
        payload: Buffer.from(this.buf.subarray(FRAME_HEADER_SIZE, size)),
      });
      this.work += size - FRAME_HEADER_SIZE;
      this.buf = this.buf.subarray(size);
    }
    this.compact();
    return frames;
  }

  /** Drops whatever partial frame is buffered (the stream was reset). */
  reset(): void {
    this.discardedBytes += this.buffered;
    this.buf = EMPTY;
    this.queued = [];
    this.queuedBytes = 0;
    this.need = 0;
  }

  private join(chunk: Buffer): void {
    if (this.buf.length === 0 && this.queuedBytes === 0) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf, ...this.queued, chunk]);
      this.work += this.buf.length;
    }
    this.queued = [];
    this.queuedBytes = 0;
    this.need = 0;
  }

  /** Copies what is kept out of a much larger chunk, so that the chunk can be freed. */
  private compact(): void {
    if (this.buf.length === 0) {
      this.buf = EMPTY;
    } else if (this.buf.length * 2 < this.buf.buffer.byteLength) {
      this.buf = Buffer.from(this.buf);
      this.work += this.buf.length;
    }
  }

  private discard(n: number): void {
    if (n <= 0) return;
    this.discardedBytes += n;
    this.buf = this.buf.subarray(n);
  }
}
