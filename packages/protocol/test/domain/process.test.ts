import assert from 'node:assert/strict';
import { GUEST_REPLY_LIMITS as LIMITS, MAX_ISSUES_REPORTED, type WireIssue } from '../../src/domain/guest-reply.js';
import { exitStatusFromWire, exitStatusToWire, processListingFromWire, readStreamFromWire, writeStreamFromWire } from '../../src/domain/process.js';
import { WaitProcessResponse } from '../../src/gen/mayu/agent/v1/agent.js';

function collect(): { issues: WireIssue[]; report: (i: WireIssue) => void } {
  const issues: WireIssue[] = [];
  return { issues, report: (i) => issues.push(i) };
}

describe('process replies from the guest', () => {
  it('round-trips an exit status within bounds, reporting nothing', () => {
    const { issues, report } = collect();
    for (const e of [
      { exitStatus: 0, signal: 0, exitedAtMs: 0 },
      { exitStatus: 137, signal: 9, exitedAtMs: 1234.5 },
      { exitStatus: 255, signal: 64, exitedAtMs: 2 ** 50 },
    ]) {
      assert.deepEqual(exitStatusFromWire(WaitProcessResponse.decode(WaitProcessResponse.encode(exitStatusToWire(e)).finish()), report), e);
    }
    assert.deepEqual(issues, []);
  });

  it('makes an exit status out of 0..255 255, a signal out of 0..64 0, a bad time 0, and reports each', () => {
    const { issues, report } = collect();
    assert.deepEqual(exitStatusFromWire({ exitStatus: -1, signal: 65, exitedAtMs: NaN }, report), { exitStatus: 255, signal: 0, exitedAtMs: 0 });
    assert.deepEqual(exitStatusFromWire({ exitStatus: 256, signal: -1, exitedAtMs: -5 }), { exitStatus: 255, signal: 0, exitedAtMs: 0 });
    assert.deepEqual(exitStatusFromWire({ exitStatus: 1.5, signal: 2 ** 32 - 1, exitedAtMs: Infinity }), { exitStatus: 255, signal: 0, exitedAtMs: 0 });
    assert.deepEqual(
      issues.map((i) => [i.field, i.value]),
      [
        ['WaitProcess.exit_status', '-1'],
        ['WaitProcess.signal', '65'],
        ['WaitProcess.exited_at_ms', 'null'],
      ],
    );
    assert.match(issues[0].problem, /0\.\.255: set to 255/);
  });

  it('throws ERR_AGENT_PROTOCOL for a reply that is not a message', () => {
    for (const bad of [null, undefined, 'x', 3]) {
      assert.throws(() => exitStatusFromWire(bad as never), { code: 'ERR_AGENT_PROTOCOL' });
      assert.throws(() => processListingFromWire(bad as never), { code: 'ERR_AGENT_PROTOCOL' });
    }
  });

  it('lists processes: drops pids out of 1..maxPid, cuts long strings, keeps at most maxList', () => {
    const { issues, report } = collect();
    const long = 'c'.repeat(LIMITS.maxString + 1);
    const listing = processListingFromWire(
      {
        processes: [
          { pid: 1, execId: '', command: 'init' },
          { pid: 0, execId: 'a', command: 'x' },
          { pid: -7, execId: 'b', command: 'x' },
          { pid: LIMITS.maxPid + 1, execId: 'c', command: 'x' },
          { pid: LIMITS.maxPid, execId: long, command: `${'d'.repeat(LIMITS.maxString - 2)}😀x` },
        ],
      },
      report,
    );
    assert.deepEqual(
      listing.map((p) => [p.pid, p.execId.length, p.command.length]),
      [
        [1, 0, 4],
        [LIMITS.maxPid, LIMITS.maxString, LIMITS.maxString - 1],
      ],
    );
    assert.ok(listing[1].execId.endsWith('…'));
    assert.ok(listing[1].command.endsWith('d…'), 'a surrogate pair is not split');
    assert.equal(issues.length, 5);

    const many = processListingFromWire({ processes: Array.from({ length: LIMITS.maxList + 1 }, (_, i) => ({ pid: 1 + (i % 1000), execId: '', command: '' })) }, report);
    assert.equal(many.length, LIMITS.maxList);
  });

  it('reports at most MAX_ISSUES_REPORTED issues of one reply, then says there were more', () => {
    const { issues, report } = collect();
    processListingFromWire({ processes: Array.from({ length: 100 }, () => ({ pid: -1, execId: '', command: '' })) }, report);
    assert.equal(issues.length, MAX_ISSUES_REPORTED);
    assert.match(issues.at(-1)!.problem, /more issues/);
  });

  it('takes at most the bytes asked for from a read, and at most the bytes sent from a write', () => {
    const { issues, report } = collect();
    assert.equal(readStreamFromWire({ data: Buffer.from('abcdef') }, 4, report).toString(), 'abcd');
    assert.equal(readStreamFromWire({ data: Buffer.from('ab') }, 4).toString(), 'ab');
    assert.equal(writeStreamFromWire({ len: 10 }, 5, report), 5);
    assert.equal(writeStreamFromWire({ len: 3 }, 5), 3);
    assert.deepEqual(
      issues.map((i) => i.field),
      ['ReadStream.data', 'WriteStream.len'],
    );
  });
});
