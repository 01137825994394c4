import assert from 'node:assert/strict';
import { StringDecoder } from 'node:string_decoder';
import { fuzz, FUZZ_TIMEOUT_MS, type Rng } from '@mayu/protocol/testing';
import pino from 'pino';
import { DROP_REPORT_INTERVAL_MS, GuestLogRelay, MAX_GUEST_LINE, MAX_GUEST_MSG } from '../../src/sandbox/guest-log-relay.js';

type Entry = Record<string, unknown>;

const KEYS = ['level', 'msg', 'time', 'pid', 'err', '__proto__', 'constructor', 'toJSON', 'guest', 'a'];

/** A random JSON value of at most `budget.nodes` nodes, with the odd deep or wide branch. */
function jsonValue(rand: Rng, budget: { nodes: number }): unknown {
  budget.nodes--;
  const pick = rand();
  const room = (n: number): number => Math.max(0, Math.min(n, budget.nodes));
  if (pick < 0.15 && budget.nodes > 0) return Array.from({ length: room(rand.size(rand.chance(0.05) ? 3000 : 4)) }, () => jsonValue(rand, budget));
  if (pick < 0.3 && budget.nodes > 0) return Object.fromEntries(Array.from({ length: room(rand.size(5)) }, () => [rand.pick(KEYS) + rand.int(3), jsonValue(rand, budget)]));
  if (pick < 0.5) return rand.pick([10, 20, 30, 40, 50, 60, 35, -1, 1e20, 1e308, 0.5, null, true]);
  return rand.bytes(rand.size(rand.chance(0.01) ? 2000 : 30)).toString('latin1');
}

/** One piece of what a guest writes to its log console. */
function piece(rand: Rng): string | Buffer {
  const pick = rand();
  if (pick < 0.35) {
    const o = Object.fromEntries(Array.from({ length: rand.size(6) }, () => [rand.pick(KEYS), jsonValue(rand, { nodes: rand.chance(0.02) ? 4000 : rand.size(30) })]));
    if (rand.chance(0.7)) o.level = rand.pick([10, 20, 30, 40, 50, 60, 99, 'fatal', null]);
    if (rand.chance(0.7)) o.msg = rand.chance(0.05) ? 'm'.repeat(rand.size(5000)) : rand.pick(['ok', '', 42, { m: 1 }]);
    const text = JSON.stringify(o);
    return `${rand.chance(0.1) ? text.slice(0, rand.int(text.length)) : text}\n`;
  }
  if (pick < 0.45) return `${'{"a":'.repeat(rand.size(200))}1\n`;
  if (pick < 0.6) return rand.bytes(rand.size(300));
  if (pick < 0.7) return `${'line\r\n'.repeat(rand.size(300))}`;
  if (pick < 0.75 && rand.chance(0.1)) return Buffer.alloc(MAX_GUEST_LINE - 2 + rand.int(3 * MAX_GUEST_LINE), rand.pick([0x79, 0x00, 0x22, 0xe9]));
  return `plain text ${rand.int(1000)}${rand.chance(0.5) ? '\n' : ''}`;
}

describe('fuzz: guest log relay', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  const out: Entry[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => out.push(JSON.parse(s) as Entry) });

  it('never throws, logs at most warn, and stays within its line and byte budgets', () => {
    fuzz('guest-log-relay/budget', (rand) => {
      out.length = 0;
      let now = rand.int(1e9);
      const start = now;
      const o = {
        linesPerSec: rand.pick([1, 10, 200]),
        burstLines: rand.pick([1, 5, 1000]),
        bytesPerSec: rand.pick([100, 1000, 65536]),
        burstBytes: rand.pick([1000, 20_000, 1 << 20]),
      };
      const relay = new GuestLogRelay(log, { ...o, now: () => now });
      const decoder = new StringDecoder('utf8');
      const input = Buffer.concat(Array.from({ length: rand.size(12) }, () => piece(rand)).map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
      for (let at = 0; at < input.length;) {
        const step = 1 + rand.int(rand.chance(0.5) ? 16 : 4096);
        relay.push(decoder.write(input.subarray(at, at + step)));
        at += step;
        if (rand.chance(0.2)) now += rand.pick([1, 100, 1000, DROP_REPORT_INTERVAL_MS]);
      }
      relay.push(decoder.end());
      relay.flush();

      const elapsedSec = (now - start) / 1000;
      const guest = out.filter((l) => 'guest' in l);
      let bytes = 0;
      for (const l of guest) {
        assert.ok(typeof l.level === 'number' && l.level <= 40, `a guest line logged at level ${String(l.level)}`);
        assert.ok(typeof l.msg === 'string' && l.msg.length <= MAX_GUEST_MSG, 'msg too long');
        const json = JSON.stringify(l.guest);
        assert.ok(typeof l.guest === 'string' ? l.guest.length <= MAX_GUEST_LINE : json.length <= MAX_GUEST_LINE, 'guest value too long');
        bytes += Buffer.byteLength(json) + Buffer.byteLength(l.msg);
      }
      assert.ok(guest.length <= o.burstLines + o.linesPerSec * elapsedSec + 1e-6, `${guest.length} lines in ${elapsedSec} s`);
      assert.ok(bytes <= o.burstBytes + o.bytesPerSec * elapsedSec + 1e-6, `${bytes} bytes in ${elapsedSec} s`);
      const reports = out.filter((l) => 'droppedLines' in l);
      assert.ok(reports.length <= 2 + (now - start) / DROP_REPORT_INTERVAL_MS, `${reports.length} drop reports in ${elapsedSec} s`);
      assert.equal(out.length, guest.length + reports.length, 'nothing else is logged');
    });
  });
});
