import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { encodeFrame, FRAME_HEADER_SIZE, FRAME_MAGIC, FrameDecoder, FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/channel/frame.js';
import { fuzz, FUZZ_TIMEOUT_MS, prng, type Rng } from './fuzz-kit.js';

const MAX_HELD = FRAME_HEADER_SIZE + MAX_FRAME_PAYLOAD;
const TYPES = [FrameType.Hello, FrameType.Welcome, FrameType.Data, FrameType.Close];

/** Random bytes, sometimes with a magic followed by a header whose CRC is wrong. */
function garbage(rand: Rng, n: number): Buffer {
  const b = rand.bytes(n);
  if (rand.chance(0.3) && n >= FRAME_MAGIC.length) FRAME_MAGIC.copy(b, rand.int(n - FRAME_MAGIC.length + 1));
  return b;
}

function randomFrame(rand: Rng): Frame {
  const payload = rand.bytes(rand.chance(0.005) ? MAX_FRAME_PAYLOAD : rand.size(rand.chance(0.1) ? 4096 : 64));
  return { type: rand.pick(TYPES), session: rand.pick([0, 1, 0xffffffff, rand.int(2 ** 32)]), payload };
}

/** A header with a valid CRC that announces more than MAX_FRAME_PAYLOAD. */
function oversizedHeader(rand: Rng): Buffer {
  const h = encodeFrame(rand.pick(TYPES), rand.int(2 ** 32));
  h.writeUInt32BE(MAX_FRAME_PAYLOAD + 1 + rand.int(2 ** 31), 12);
  h.writeUInt32BE(crc32(h.subarray(0, 16)), 16);
  return h;
}

/** Splits `stream` at random boundaries: empty chunks, single bytes, and chunks larger than a frame. */
function chunks(rand: Rng, stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    const step = rand.pick([0, 1, 1 + rand.int(20), 1 + rand.int(300), 1 + rand.int(4 * MAX_HELD)]);
    out.push(stream.subarray(at, at + step));
    at += step;
  }
  return out;
}

/**
 * Garbage, intact frames, frames with a corrupt header (lost), frames with a
 * corrupt payload (returned as received: payloads have no checksum), headers
 * announcing more than the maximum, and maybe a truncated frame at the end.
 * `expected` holds every frame whose header arrived intact, in order.
 */
function recoverableStream(rand: Rng): { stream: Buffer; expected: Frame[] } {
  const parts: Buffer[] = [];
  const expected: Frame[] = [];
  for (let n = rand.int(8); n > 0; n--) {
    const pick = rand();
    if (pick < 0.2) {
      parts.push(garbage(rand, rand.size(200)));
    } else if (pick < 0.3) {
      parts.push(oversizedHeader(rand));
    } else {
      const f = randomFrame(rand);
      const wire = encodeFrame(f.type, f.session, f.payload);
      if (pick < 0.7) {
        expected.push(f);
      } else if (pick < 0.85) {
        wire[rand.int(FRAME_HEADER_SIZE)] ^= 1 + rand.int(255);
      } else if (f.payload.length > 0) {
        wire[FRAME_HEADER_SIZE + rand.int(f.payload.length)] ^= 1 + rand.int(255);
        expected.push({ ...f, payload: Buffer.from(wire.subarray(FRAME_HEADER_SIZE)) });
      } else {
        expected.push(f);
      }
      parts.push(wire);
    }
  }
  if (rand.chance(0.2)) {
    const wire = encodeFrame(FrameType.Data, 7, rand.bytes(rand.size(300)));
    parts.push(wire.subarray(0, rand.int(wire.length)));
  }
  return { stream: Buffer.concat(parts), expected };
}

/** Anything at all: also truncated frames mid-stream (they swallow what follows) and resets. */
function hostileStream(rand: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let n = 1 + rand.int(8); n > 0; n--) {
    const pick = rand();
    if (pick < 0.3) parts.push(garbage(rand, rand.size(500)));
    else if (pick < 0.5) parts.push(oversizedHeader(rand));
    else {
      const f = randomFrame(rand);
      const wire = encodeFrame(f.type, f.session, f.payload);
      parts.push(pick < 0.75 ? wire : wire.subarray(0, rand.int(wire.length + 1)));
    }
  }
  return Buffer.concat(parts);
}

const summary = (f: Frame): string => `${f.type}/${f.session}/${f.payload.toString('hex')}`;

/** Pushes every chunk, checking the decoder's bounds after each; returns the frames. */
function decodeAll(d: FrameDecoder, pieces: Buffer[], onChunk?: (i: number) => void): Frame[] {
  const frames: Frame[] = [];
  let pushed = 0;
  let consumed = 0;
  pieces.forEach((piece, i) => {
    onChunk?.(i);
    pushed += piece.length;
    for (const f of d.push(piece)) {
      assert.ok(TYPES.includes(f.type), `frame of type ${f.type}`);
      assert.ok(f.payload.length <= MAX_FRAME_PAYLOAD, `payload of ${f.payload.length} bytes`);
      consumed += FRAME_HEADER_SIZE + f.payload.length;
      frames.push(f);
    }
    assert.ok(d.buffered <= MAX_HELD, `the decoder holds ${d.buffered} bytes`);
  });
  assert.ok(consumed + d.discardedBytes + d.buffered <= pushed, 'decoded more than was sent');
  return frames;
}

describe('fuzz: serial channel frame decoder', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('recovers every frame whose header is intact, in order, however the stream is split', () => {
    fuzz('frame-decoder/recover', (rand) => {
      const { stream, expected } = recoverableStream(rand);
      const d = new FrameDecoder();
      const pieces = chunks(rand, stream);
      const frames = decodeAll(d, pieces);
      assert.deepEqual(frames.map(summary), expected.map(summary));
      const consumed = frames.reduce((n, f) => n + FRAME_HEADER_SIZE + f.payload.length, 0);
      assert.equal(consumed + d.discardedBytes + d.buffered, stream.length, 'every byte is a frame, discarded or held');
      assert.ok(d.workBytes <= 8 * stream.length + 64 * pieces.length, `work ${d.workBytes} for ${stream.length} bytes in ${pieces.length} chunks`);
    });
  });

  it('never throws, holds at most one frame and decodes at most what it was given on hostile streams', () => {
    fuzz('frame-decoder/hostile', (rand) => {
      const d = new FrameDecoder();
      const stream = hostileStream(rand);
      const pieces = chunks(rand, stream);
      decodeAll(d, pieces, () => {
        if (rand.chance(0.02)) d.reset();
      });
      assert.ok(d.workBytes <= 8 * stream.length + 64 * pieces.length, `work ${d.workBytes} for ${stream.length} bytes in ${pieces.length} chunks`);
    });
  });

  it('does linear work on 1 MiB of adversarial bytes, fed in tiny chunks', () => {
    const rand = prng(1);
    const header = encodeFrame(FrameType.Data, 1, Buffer.alloc(MAX_FRAME_PAYLOAD)).subarray(0, FRAME_HEADER_SIZE);
    const inputs = {
      garbage: rand.bytes(1 << 20),
      'magics with bad headers': Buffer.alloc(1 << 20, Buffer.concat([FRAME_MAGIC, Buffer.from([9])])),
      'maximal frames arriving a byte at a time': Buffer.concat(Array.from({ length: 16 }, () => Buffer.concat([header, Buffer.alloc(MAX_FRAME_PAYLOAD)]))),
    };
    for (const [name, input] of Object.entries(inputs)) {
      for (const size of [1, 4096]) {
        const d = new FrameDecoder();
        let pushes = 0;
        for (let at = 0; at < input.length; at += size, pushes++) d.push(input.subarray(at, at + size));
        assert.ok(d.workBytes <= 8 * input.length + 64 * pushes, `${name} in chunks of ${size}: work ${d.workBytes} for ${input.length} bytes`);
        assert.ok(d.buffered <= MAX_HELD);
      }
    }
  });
});
