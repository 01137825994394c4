import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeFrame, FrameReader, HEADER_SIZE, MAX_DATA_SIZE, MessageType } from '../src/frame.js';

/** A deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function header(length: number, streamId: number, type: number, flags = 0): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32BE(length, 0);
  h.writeUInt32BE(streamId, 4);
  h.writeUInt8(type, 8);
  h.writeUInt8(flags, 9);
  return h;
}

describe('ttrpc frames', () => {
  it('encodes the 10-byte big-endian header: length, stream id, type, flags', () => {
    const f = encodeFrame(0x01020304, MessageType.Response, Buffer.from('abc'), 0x05);
    assert.deepEqual([...f.subarray(0, HEADER_SIZE)], [0, 0, 0, 3, 1, 2, 3, 4, 2, 5]);
    assert.equal(f.subarray(HEADER_SIZE).toString(), 'abc');
  });

  it('refuses to encode more than 4 MiB of data', () => {
    assert.throws(() => encodeFrame(1, MessageType.Request, Buffer.alloc(MAX_DATA_SIZE + 1)), /exceeds/);
    assert.equal(encodeFrame(1, MessageType.Request, Buffer.alloc(MAX_DATA_SIZE)).length, MAX_DATA_SIZE + HEADER_SIZE);
  });

  it('decodes frames however the stream is split (every split point of three frames)', () => {
    const frames = [encodeFrame(1, MessageType.Request, Buffer.from('first')), encodeFrame(3, MessageType.Request, Buffer.alloc(0)), encodeFrame(5, MessageType.Data, Buffer.from('third'), 2)];
    const stream = Buffer.concat(frames);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 7) {
        const r = new FrameReader();
        const got = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)].flatMap((c) => r.push(c).frames);
        assert.deepEqual(
          got.map((f) => [f.streamId, f.type, f.flags, f.data.toString()]),
          [
            [1, 1, 0, 'first'],
            [3, 1, 0, ''],
            [5, 3, 2, 'third'],
          ],
          `split at ${i}/${j}`,
        );
      }
    }
  });

  it('skips an oversized frame as it arrives, reports it once, and reads the next frame', () => {
    const r = new FrameReader();
    const big = MAX_DATA_SIZE + 100;
    const first = r.push(header(big, 7, MessageType.Request));
    assert.deepEqual(first.oversized, [{ streamId: 7, type: MessageType.Request, length: big }]);
    let frames = 0;
    let reports = 0;
    for (let sent = 0; sent < big; sent += 65536) {
      const out = r.push(Buffer.alloc(Math.min(65536, big - sent), 0xff));
      frames += out.frames.length;
      reports += out.oversized.length;
    }
    assert.equal(frames + reports, 0, 'the skipped data produced nothing');
    const next = r.push(encodeFrame(9, MessageType.Request, Buffer.from('ok')));
    assert.deepEqual(
      next.frames.map((f) => [f.streamId, f.data.toString()]),
      [[9, 'ok']],
    );
  });

  it('never throws on random, truncated or hostile input (property test over 2000 seeded streams)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const rand = prng(seed);
      const r = new FrameReader();
      const parts: Buffer[] = [];
      const n = 1 + Math.floor(rand() * 6);
      for (let k = 0; k < n; k++) {
        const pick = rand();
        if (pick < 0.3) parts.push(randomBytes(Math.floor(rand() * 64)));
        else if (pick < 0.6) parts.push(encodeFrame(Math.floor(rand() * 2 ** 32), MessageType.Request, randomBytes(Math.floor(rand() * 200))));
        else if (pick < 0.8) parts.push(encodeFrame(1, MessageType.Request, randomBytes(100)).subarray(0, Math.floor(rand() * 110)));
        else parts.push(header(Math.floor(rand() * 2 ** 32), Math.floor(rand() * 2 ** 32), Math.floor(rand() * 256)));
      }
      const stream = Buffer.concat(parts);
      let at = 0;
      let decoded = 0;
      while (at < stream.length) {
        const step = 1 + Math.floor(rand() * 50);
        const out = r.push(stream.subarray(at, at + step));
        assert.ok((r as unknown as { buffered: number }).buffered <= HEADER_SIZE + MAX_DATA_SIZE, `seed ${seed}: the reader holds more than one maximal frame`);
        for (const f of out.frames) {
          assert.ok(f.data.length <= MAX_DATA_SIZE, `seed ${seed}: a frame above the limit`);
          decoded += f.data.length + HEADER_SIZE;
        }
        at += step;
      }
      assert.ok(decoded <= stream.length, `seed ${seed}: decoded more than was sent`);
    }
  });
});
