import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { decodeWaitStatus, ExitReports } from '../../src/container/exit-reports.js';

function record(pid: number, status: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32LE(pid, 0);
  b.writeInt32LE(status, 4);
  return b;
}

describe('exit reports from mayu-init', () => {
  it('decodes wait statuses: exit codes, and 128 + signal for signal deaths', () => {
    assert.deepEqual(decodeWaitStatus(0), { exitStatus: 0, signal: 0 });
    assert.deepEqual(decodeWaitStatus(7 << 8), { exitStatus: 7, signal: 0 });
    assert.deepEqual(decodeWaitStatus(9), { exitStatus: 137, signal: 9 });
    assert.deepEqual(decodeWaitStatus(15 | 0x80), { exitStatus: 143, signal: 15 }, 'core dump flag');
  });

  it('delivers a report to whoever waits for the pid, before or after it arrives, across split records', async () => {
    const pipe = new PassThrough();
    const reports = new ExitReports();
    reports.attach(pipe);
    const early = reports.waitFor(42);
    const bytes = Buffer.concat([record(42, 3 << 8), record(77, 9)]);
    pipe.write(bytes.subarray(0, 5));
    pipe.write(bytes.subarray(5));
    await new Promise((r) => setImmediate(r));
    assert.equal((await early).exitStatus, 3);
    assert.equal((await reports.waitFor(77)).exitStatus, 137);
  });
});
