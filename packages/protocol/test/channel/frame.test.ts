import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeData, encodeFrame, FRAME_HEADER_SIZE, FrameDecoder, FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/channel/frame.js';

const summary = (f: Frame): [number, number, string] => [f.type, f.session, f.payload.toString('hex')];

describe('serial channel frames', () => {
  it('round-trips a frame of every type', () => {
    for (const type of [FrameType.Hello, FrameType.Welcome, FrameType.Data, FrameType.Close]) {
      const d = new FrameDecoder();
      const frames = d.push(encodeFrame(type, 0xdeadbeef, Buffer.from('payload')));
      assert.deepEqual(frames.map(summary), [[type, 0xdeadbeef, Buffer.from('payload').toString('hex')]]);
      assert.equal(d.discardedBytes, 0);
    }
  });

  it('reassembles frames split at every byte offset', () => {
    const wire = Buffer.concat([encodeFrame(FrameType.Data, 7, Buffer.from('abc')), encodeFrame(FrameType.Close, 7)]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      assert.deepEqual(
        frames.map(summary),
        [
          [FrameType.Data, 7, '616263'],
          [FrameType.Close, 7, ''],
        ],
        `cut at ${cut}`,
      );
    }
  });

  it('skips stale bytes, a partial frame and a corrupt header before a valid frame', () => {
    const good = encodeFrame(FrameType.Hello, 42, Buffer.from([0, 0, 0, 1]));
    const corrupt = encodeFrame(FrameType.Data, 41, Buffer.from('old'));
    corrupt[9] ^= 0xff; // session byte changed: CRC no longer matches
    const partial = encodeFrame(FrameType.Data, 40, Buffer.alloc(100, 1)).subarray(10, 60);
    const d = new FrameDecoder();
    const frames = d.push(Buffer.concat([Buffer.from('garbage MYU'), partial, corrupt, good]));
    assert.deepEqual(frames.map(summary), [[FrameType.Hello, 42, '00000001']]);
    assert.equal(d.discardedBytes, 11 + partial.length + corrupt.length);
  });

  it('refuses a header that announces more than the maximum payload', () => {
    const f = encodeFrame(FrameType.Data, 1, Buffer.from('x'));
    f.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 12);
    const d = new FrameDecoder();
    assert.deepEqual(d.push(Buffer.concat([f, encodeFrame(FrameType.Close, 1)])).map(summary), [[FrameType.Close, 1, '']]);
  });

  it('splits large writes into maximal Data frames', () => {
    const data = randomBytes(MAX_FRAME_PAYLOAD * 2 + 5);
    const frames = encodeData(3, data);
    assert.equal(frames.length, 3);
    const decoded = new FrameDecoder().push(Buffer.concat(frames));
    assert.deepEqual(Buffer.concat(decoded.map((f) => f.payload)), data);
    assert.throws(() => encodeFrame(FrameType.Data, 1, Buffer.alloc(MAX_FRAME_PAYLOAD + 1)), RangeError);
  });

  it('never throws or holds more than one frame on random input (fuzz)', () => {
    const d = new FrameDecoder();
    for (let i = 0; i < 2000; i++) {
      const chunk = randomBytes(1 + (i % 300));
      if (i % 50 === 0) chunk.write('MYU1', 0, 'latin1');
      d.push(chunk);
      const held = d.buffered;
      assert.ok(held <= FRAME_HEADER_SIZE + MAX_FRAME_PAYLOAD, `decoder holds ${held} bytes`);
    }
    // After the noise, a valid frame still comes through.
    const after = d.push(Buffer.concat([Buffer.alloc(FRAME_HEADER_SIZE + MAX_FRAME_PAYLOAD), encodeFrame(FrameType.Close, 9)]));
    assert.deepEqual(after.map(summary).at(-1), [FrameType.Close, 9, '']);
  });
});
