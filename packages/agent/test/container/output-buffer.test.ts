import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { OutputBuffer } from '../../src/container/output-buffer.js';

describe('process output buffer', () => {
  it('waits for data, returns at most len bytes, and an empty buffer at the end', async () => {
    const src = new PassThrough();
    const out = new OutputBuffer(src);
    const first = out.read(3);
    src.write('hello');
    assert.equal((await first).toString(), 'hel');
    assert.equal((await out.read(100)).toString(), 'lo');
    const last = out.read(10);
    src.end();
    assert.equal((await last).length, 0);
    assert.ok(out.ended);
  });

  it('pauses its source when full and resumes once read', async () => {
    const src = new PassThrough();
    const out = new OutputBuffer(src, 4);
    src.write('123456');
    await new Promise((r) => setImmediate(r));
    assert.ok(src.isPaused());
    await out.read(6);
    assert.ok(!src.isPaused());
  });

  it('treats an error (a terminal master reads EIO) as the end', async () => {
    const src = new PassThrough();
    const out = new OutputBuffer(src);
    src.destroy(new Error('EIO'));
    assert.equal((await out.read(1)).length, 0);
    assert.equal((await new OutputBuffer(null).read(1)).length, 0);
  });
});
