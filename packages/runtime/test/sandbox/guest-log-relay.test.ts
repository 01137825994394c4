import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { GuestLogRelay, MAX_GUEST_DEPTH, MAX_GUEST_LINE, MAX_GUEST_MSG, type GuestLogRelayOptions } from '../../src/sandbox/guest-log-relay.js';

type Entry = Record<string, unknown>;

/** A relay over a pino logger that writes to memory, with a clock the test moves. */
function relay(options: GuestLogRelayOptions = {}): { relay: GuestLogRelay; lines: Entry[]; clock: { now: number } } {
  const lines: Entry[] = [];
  const clock = { now: 0 };
  const log = pino({ level: 'trace' }, { write: (s: string) => lines.push(JSON.parse(s) as Entry) });
  return { relay: new GuestLogRelay(log, { now: () => clock.now, ...options }), lines, clock };
}

const guestLines = (lines: Entry[]): Entry[] => lines.filter((l) => 'guest' in l);
const dropReports = (lines: Entry[]): Entry[] => lines.filter((l) => 'droppedLines' in l);

describe('guest log relay', () => {
  it('re-logs guest JSON under a guest key at its level, and text as text', () => {
    const { relay: r, lines } = relay();
    r.push('{"level":20,"msg":"mounted","pid":1}\nplain ');
    r.push('text\r\n\n   \n');
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.guest]),
      [
        [20, 'mounted', { level: 20, msg: 'mounted', pid: 1 }],
        [30, 'guest output', 'plain text'],
      ],
    );
  });

  it('logs a guest line at most at warn; unknown or non-numeric levels at info', () => {
    const { relay: r, lines } = relay();
    for (const level of [10, 20, 30, 40, 50, 60, 35, 100, -1, '"error"', 'null', '{}']) r.push(`{"level":${level},"msg":"m"}\n`);
    r.push('{"msg":"no level"}\n');
    assert.deepEqual(
      lines.map((l) => l.level),
      [10, 20, 30, 40, 40, 40, 30, 30, 30, 30, 30, 30, 30],
    );
    assert.deepEqual((lines[5].guest as Entry).level, 60, "the guest's own level is kept under guest");
  });

  it('cuts msg to MAX_GUEST_MSG and takes only a string msg', () => {
    const { relay: r, lines } = relay();
    r.push(`${JSON.stringify({ msg: 'm'.repeat(5000) })}\n${JSON.stringify({ msg: { nested: true } })}\n`);
    assert.equal((lines[0].msg as string).length, MAX_GUEST_MSG);
    assert.ok((lines[0].msg as string).endsWith('…'));
    assert.equal(lines[1].msg, 'guest output');
  });

  it('logs as text a JSON line nested too deep or that grows past the limit once re-serialised', () => {
    const { relay: r, lines } = relay();
    const deep = `{"a":${'['.repeat(MAX_GUEST_DEPTH)}${']'.repeat(MAX_GUEST_DEPTH)}}`;
    const shallow = `{"a":${'['.repeat(MAX_GUEST_DEPTH - 1)}${']'.repeat(MAX_GUEST_DEPTH - 1)}}`;
    const grows = `{"n":[${Array(Math.floor(MAX_GUEST_LINE / 6))
      .fill('1e20')
      .join(',')}]}`;
    const bracketsInStrings = `{"s":"${'['.repeat(100)}"}`;
    r.push(`${deep}\n${shallow}\n${grows}\n${bracketsInStrings}\n`);
    assert.deepEqual(
      lines.map((l) => typeof l.guest),
      ['string', 'object', 'string', 'object'],
    );
    assert.ok(grows.length <= MAX_GUEST_LINE);
  });

  it('cuts a line at MAX_GUEST_LINE as it arrives and drops the rest of it', () => {
    const { relay: r, lines } = relay();
    r.push('y'.repeat(MAX_GUEST_LINE + 10));
    assert.equal(guestLines(lines).length, 1, 'the cut line is logged before its end arrives');
    r.push('y'.repeat(100));
    r.push('yyy\nnext\n');
    r.flush();
    const logged = guestLines(lines);
    assert.deepEqual(
      logged.map((l) => (l.guest as string).length),
      [MAX_GUEST_LINE, 4],
    );
    assert.deepEqual(
      dropReports(lines).map((l) => [l.droppedLines, l.droppedBytes, l.truncatedLines]),
      [
        [0, 10, 1],
        [0, 103, 0],
      ],
    );
  });

  it('does linear work on a line that never ends, fed a byte at a time', () => {
    const { relay: r, lines } = relay();
    for (let i = 0; i < 1 << 20; i++) r.push('z');
    r.flush();
    assert.equal(guestLines(lines).length, 1);
    const reports = dropReports(lines);
    assert.ok(reports.length <= 2, 'one report at the cut, one at the end');
    assert.equal(
      reports.reduce((n, l) => n + Number(l.droppedBytes), 0),
      (1 << 20) - MAX_GUEST_LINE,
    );
  });

  it('rate-limits lines, counting what it dropped', () => {
    const { relay: r, lines, clock } = relay({ linesPerSec: 1, burstLines: 5 });
    r.push('x\n'.repeat(100));
    clock.now += 2000;
    r.push('x\n'.repeat(10));
    r.flush();
    assert.equal(guestLines(lines).length, 7);
    assert.equal(
      dropReports(lines).reduce((n, l) => n + Number(l.droppedLines), 0),
      103,
    );
  });

  it('rate-limits bytes, with one warning every 5 s counting dropped lines and bytes', () => {
    const { relay: r, lines, clock } = relay({ bytesPerSec: 1000, burstBytes: 2000 });
    const line = 'b'.repeat(500);
    const cost = JSON.stringify(line).length + 'guest output'.length;
    for (let i = 0; i < 10; i++) r.push(`${line}\n`);
    assert.equal(guestLines(lines).length, Math.floor(2000 / cost));
    clock.now += 1000;
    for (let i = 0; i < 10; i++) r.push(`${line}\n`);
    clock.now += 5000;
    for (let i = 0; i < 10; i++) r.push(`${line}\n`);
    r.flush();
    const reports = dropReports(lines);
    assert.deepEqual(
      reports.map((l) => l.level),
      [40, 40, 40],
      'one at the first drop, one 5 s later, one at the end',
    );
    const dropped = reports.reduce((n, l) => n + Number(l.droppedLines), 0);
    assert.equal(dropped + guestLines(lines).length, 30);
    assert.equal(
      reports.reduce((n, l) => n + Number(l.droppedBytes), 0),
      dropped * line.length,
    );
  });

  it('reads a stream, replacing invalid UTF-8', async () => {
    const { relay: r, lines } = relay();
    const stream = new PassThrough();
    r.attach(stream);
    stream.write(Buffer.from([0x61, 0xff, 0xc3]));
    stream.end(Buffer.from([0xa9, 0x0a, 0x62]));
    await once(stream, 'close');
    assert.deepEqual(
      guestLines(lines).map((l) => l.guest),
      ['a\ufffdé', 'b'],
    );
  });
});
