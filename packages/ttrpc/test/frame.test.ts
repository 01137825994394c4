import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeFrame, FrameReader, HEADER_SIZE, MAX_DATA_SIZE, MessageType } from '../src/frame.js';

describe('ttrpc frames', () => {
  it('encodes the 10-byte big-endian header', () => {
    const f = encodeFrame(1, MessageType.Request, Buffer.from('abc'));
    assert.equal(f.subarray(0, HEADER_SIZE).toString('hex'), '00000003' + '00000001' + '01' + '00');
  });

  it('reassembles frames split anywhere', () => {
    const wire = Buffer.concat([encodeFrame(1, MessageType.Request, Buffer.from('one')), encodeFrame(3, MessageType.Request, Buffer.alloc(0))]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const r = new FrameReader();
      const frames = [...r.push(wire.subarray(0, cut)).frames, ...r.push(wire.subarray(cut)).frames];
      assert.deepEqual(frames.map((f) => [f.streamId, f.data.toString()]), [[1, 'one'], [3, '']], `cut ${cut}`);
    }
  });

  it('skips an oversized frame as it arrives, reports it once, and reads the next', () => {
    const r = new FrameReader();
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32BE(MAX_DATA_SIZE + 10, 0);
    header.writeUInt32BE(5, 4);
    header.writeUInt8(1, 8);
    const first = r.push(header);
    assert.deepEqual(first.oversized, [{ streamId: 5, type: 1, length: MAX_DATA_SIZE + 10 }]);
    for (let sent = 0; sent < MAX_DATA_SIZE + 10; sent += 1 << 20) {
      const { frames, oversized } = r.push(Buffer.alloc(Math.min(1 << 20, MAX_DATA_SIZE + 10 - sent)));
      assert.equal(frames.length + oversized.length, 0);
    }
    assert.deepEqual(r.push(encodeFrame(7, MessageType.Request, Buffer.from('x'))).frames.map((f) => f.streamId), [7]);
  });

  it('never throws or holds more than one maximal frame on random input (fuzz)', () => {
    const r = new FrameReader();
    for (let i = 0; i < 3000; i++) {
      r.push(randomBytes(1 + (i % 64)));
      assert.ok((r as unknown as { buf: Buffer }).buf.length <= HEADER_SIZE + MAX_DATA_SIZE);
    }
    assert.throws(() => encodeFrame(1, MessageType.Request, Buffer.alloc(MAX_DATA_SIZE + 1)), RangeError);
  });
});
