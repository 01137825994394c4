import assert from 'node:assert/strict';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { servingStatusFromWire } from '../../src/domain/health.js';
import { guestDetailsFromWire, type GuestDetails } from '../../src/domain/guest-details.js';
import { GUEST_REPLY_LIMITS as LIMITS, MAX_ISSUES_REPORTED, type WireIssue } from '../../src/domain/guest-reply.js';
import { exitStatusFromWire, processListingFromWire, readStreamFromWire, writeStreamFromWire, type ExitStatus, type ProcessListing } from '../../src/domain/process.js';
import { containerStatsFromWire, oomEventFromWire, type ContainerStats } from '../../src/domain/stats.js';
import { isMayuError } from '../../src/errors/mayu-error.js';
import * as wire from '../../src/gen/mayu/agent/v1/agent.js';
import { fuzz, FUZZ_TIMEOUT_MS, type Rng } from './fuzz-kit.js';

const VARINTS = [0n, 1n, 2n, 9n, 64n, 65n, 127n, 128n, 255n, 256n, 4194304n, 4194305n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const DOUBLES = [0, -0, 1, -1, 0.5, 1e3, 2 ** 53 - 1, 2 ** 53, 1e300, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];

/** A string that is long, empty, or cut across a surrogate pair at the limit. */
function randomString(rand: Rng): string {
  const pick = rand();
  if (pick < 0.9) return rand.bytes(rand.int(40)).toString('latin1');
  if (pick < 0.94) return '😀'.repeat(rand.size(LIMITS.maxString));
  if (pick < 0.97) return 'x'.repeat(LIMITS.maxString - 1) + '😀'.repeat(1 + rand.int(3));
  return rand.bytes(rand.size(LIMITS.maxString + 10)).toString('utf8');
}

/** Random protobuf: known and unknown field numbers, every wire type, extreme values, nested messages, broken UTF-8. */
function randomProto(rand: Rng, depth = 0): Uint8Array {
  const w = new BinaryWriter();
  for (let n = rand.int(10); n > 0; n--) {
    const field = rand.chance(0.9) ? 1 + rand.int(13) : 1 + rand.int(2 ** 29 - 1);
    const pick = rand();
    if (pick < 0.3) {
      const v = rand.chance(0.8) ? rand.pick(VARINTS) : BigInt(rand.int(2 ** 32));
      if (rand.chance(0.2) && v <= 2n ** 63n) w.tag(field, WireType.Varint).int64(-v);
      else w.tag(field, WireType.Varint).uint64(v);
    } else if (pick < 0.5) {
      w.tag(field, WireType.Bit64).double(rand.pick(DOUBLES));
    } else if (pick < 0.6) {
      w.tag(field, WireType.Bit32).fixed32(rand.int(2 ** 32));
    } else if (pick < 0.8 && depth < 3) {
      w.tag(field, WireType.LengthDelimited).bytes(randomProto(rand, depth + 1));
    } else {
      w.tag(field, WireType.LengthDelimited).string(randomString(rand));
    }
  }
  return w.finish();
}

/** Damages an encoding: flipped bytes, a cut, random bytes appended. */
function mutate(rand: Rng, bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes);
  for (let k = rand.int(3); k > 0 && b.length > 0; k--) b[rand.int(b.length)] ^= 1 << rand.int(8);
  const cut = rand.chance(0.3) ? b.subarray(0, rand.int(b.length + 1)) : b;
  return rand.chance(0.3) ? Buffer.concat([cut, rand.bytes(rand.size(20))]) : cut;
}

/** Bytes a hostile guest might send as a reply. */
function replyBytes(rand: Rng, valid: () => Uint8Array): Uint8Array {
  const pick = rand();
  if (pick < 0.25) return rand.bytes(rand.size(200));
  if (pick < 0.6) return randomProto(rand);
  if (pick < 0.8) return mutate(rand, valid());
  return valid();
}

/** Errors a decoder may throw on bad bytes (grpc-js turns them into an INTERNAL status). */
function isDecodingError(err: unknown): boolean {
  return err instanceof Error && (err.constructor === Error || err.constructor === RangeError);
}

/**
 * Decodes `bytes` and converts the message; the conversion must return a
 * value (checked by `check`) or throw a MayuError, and report few, short issues.
 */
function decodeAndConvert<I, W, D>(decode: (input: I) => W, convert: (w: W, report: (i: WireIssue) => void) => D, bytes: I, check: (d: D) => void): void {
  let message: W;
  try {
    message = decode(bytes);
  } catch (err) {
    assert.ok(isDecodingError(err), `the decoder threw ${String(err)}`);
    return;
  }
  const issues: WireIssue[] = [];
  let value: D;
  try {
    value = convert(message, (i) => issues.push(i));
  } catch (err) {
    assert.ok(isMayuError(err), `the conversion threw ${String(err)}`);
    return;
  }
  check(value);
  assert.ok(issues.length <= MAX_ISSUES_REPORTED, `${issues.length} issues reported`);
  for (const i of issues) assert.ok(i.value.length <= 125 && i.field.length < 200 && i.problem.length < 200, `an issue too long: ${JSON.stringify(i).slice(0, 300)}`);
}

const isInt = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isCount = (v: unknown): boolean => isInt(v, 0, LIMITS.maxNumber);
const isTime = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= LIMITS.maxNumber;
const isBoundedString = (v: unknown): boolean => typeof v === 'string' && v.length <= LIMITS.maxString && !/[\uD800-\uDBFF]$/.test(v);

function checkExitStatus(e: ExitStatus): void {
  assert.ok(isInt(e.exitStatus, 0, 255) && isInt(e.signal, 0, 64) && isTime(e.exitedAtMs), `exit status out of bounds: ${JSON.stringify(e)}`);
}

function checkGuestDetails(d: GuestDetails): void {
  const strings = [d.kernelRelease, d.kernelVersion, d.agentVersion, d.nodeVersion, d.hostname, d.ociRuntime, ...d.channels];
  assert.ok(strings.every(isBoundedString), 'a string out of bounds');
  assert.ok(d.channels.length <= LIMITS.maxChannels, `${d.channels.length} channels`);
  assert.ok([d.memory.totalBytes, d.memory.availableBytes, d.memory.blockSizeBytes, d.onlineCpus].every(isCount), `a count out of bounds: ${JSON.stringify(d.memory)}`);
  assert.ok([d.uptimeMs, ...Object.values(d.boot)].every(isTime), `a time out of bounds: ${JSON.stringify(d.boot)}`);
}

function checkStats(s: ContainerStats): void {
  const counts = [s.cpu, s.memory, s.pids, s.blkio].flatMap((g) => Object.values(g));
  assert.equal(counts.length, 15);
  assert.ok(counts.every(isCount), `a counter out of bounds: ${JSON.stringify(s)}`);
  assert.ok(isTime(s.timestampMs));
}

function checkListing(l: ProcessListing[]): void {
  assert.ok(l.length <= LIMITS.maxList);
  for (const p of l) assert.ok(isInt(p.pid, 1, LIMITS.maxPid) && isBoundedString(p.execId) && isBoundedString(p.command), `a process out of bounds: ${JSON.stringify(p).slice(0, 200)}`);
}

const validExit = (rand: Rng): Uint8Array => wire.WaitProcessResponse.encode({ exitStatus: rand.int(256), signal: rand.int(65), exitedAtMs: rand() * 1e9 }).finish();

describe('fuzz: agent replies, decoded and converted on the host', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('WaitProcessResponse → ExitStatus', () => {
    fuzz('agent-replies/wait-process', (rand) => {
      decodeAndConvert(
        wire.WaitProcessResponse.decode,
        exitStatusFromWire,
        replyBytes(rand, () => validExit(rand)),
        checkExitStatus,
      );
    });
  });

  it('GuestDetails → GuestDetails', () => {
    fuzz('agent-replies/guest-details', (rand) => {
      const valid = (): Uint8Array =>
        wire.GuestDetails.encode(
          wire.GuestDetails.fromPartial({
            kernelRelease: randomString(rand),
            hostname: randomString(rand),
            memoryTotalBytes: rand.int(2 ** 40),
            uptimeMs: rand.pick(DOUBLES),
            boot: { initStartMs: rand.pick(DOUBLES), agentListeningMs: rand() },
            channels: Array.from({ length: rand.size(LIMITS.maxChannels + 1) }, () => randomString(rand)),
          }),
        ).finish();
      decodeAndConvert(wire.GuestDetails.decode, guestDetailsFromWire, replyBytes(rand, valid), checkGuestDetails);
    });
  });

  it('StatsContainerResponse → ContainerStats', () => {
    fuzz('agent-replies/stats', (rand) => {
      const counter = (): number => Number(rand.pick(VARINTS.filter((v) => v <= 2n ** 53n - 1n)));
      const valid = (): Uint8Array =>
        wire.StatsContainerResponse.encode(
          wire.StatsContainerResponse.fromPartial({
            cpu: rand.chance(0.8) ? { usageUsec: counter(), nrThrottled: counter() } : undefined,
            memory: rand.chance(0.8) ? { usageBytes: counter(), oomKills: counter() } : undefined,
            pids: { current: counter(), limit: counter() },
            networks: [{ name: randomString(rand), rxBytes: counter() }],
            timestampMs: rand.pick(DOUBLES),
          }),
        ).finish();
      decodeAndConvert(wire.StatsContainerResponse.decode, containerStatsFromWire, replyBytes(rand, valid), checkStats);
    });
  });

  it('ListProcessesResponse → ProcessListing[]', () => {
    fuzz('agent-replies/list-processes', (rand) => {
      const valid = (): Uint8Array =>
        wire.ListProcessesResponse.encode({
          processes: Array.from({ length: rand.size(30) }, () => ({
            pid: rand.pick([-1, 0, 1, LIMITS.maxPid, LIMITS.maxPid + 1, 2 ** 31 - 1, rand.int(100_000)]),
            execId: randomString(rand),
            command: randomString(rand),
          })),
        }).finish();
      decodeAndConvert(wire.ListProcessesResponse.decode, processListingFromWire, replyBytes(rand, valid), checkListing);
    });
  });

  it('ReadStreamResponse, WriteStreamResponse, OOMEvent, CheckResponse', () => {
    fuzz('agent-replies/small', (rand) => {
      const maxLen = rand.pick([0, 1, 100, 1 << 20]);
      decodeAndConvert(
        wire.ReadStreamResponse.decode,
        (w, r) => readStreamFromWire(w, maxLen, r),
        replyBytes(rand, () => wire.ReadStreamResponse.encode({ data: rand.bytes(rand.size(300)) }).finish()),
        (b) => {
          assert.ok(Buffer.isBuffer(b) && b.length <= maxLen, `read ${b.length} bytes of at most ${maxLen}`);
        },
      );
      const sent = rand.size(1000);
      decodeAndConvert(
        wire.WriteStreamResponse.decode,
        (w, r) => writeStreamFromWire(w, sent, r),
        replyBytes(rand, () => wire.WriteStreamResponse.encode({ len: rand.int(2 ** 32) }).finish()),
        (n) => {
          assert.ok(isInt(n, 0, sent), `wrote ${n} of ${sent} bytes`);
        },
      );
      decodeAndConvert(
        wire.OOMEvent.decode,
        oomEventFromWire,
        replyBytes(rand, () => wire.OOMEvent.encode({ containerId: randomString(rand) }).finish()),
        (id) => {
          assert.ok(isBoundedString(id), 'container id out of bounds');
        },
      );
      decodeAndConvert(
        wire.CheckResponse.decode,
        (w) => servingStatusFromWire(w.status),
        replyBytes(rand, () => wire.CheckResponse.encode({ status: rand.int(5) - 1 }).finish()),
        (s) => {
          assert.ok(['serving', 'not-serving', 'unknown'].includes(s), `status ${s}`);
        },
      );
    });
  });

  it('conversions given values of the wrong type (not from the decoder) return bounded values or throw MayuError', () => {
    const values = [undefined, null, -1, NaN, Infinity, 1e300, 2.5, 'x', '', true, {}, [], [1, 2], 10n, Symbol('s'), () => 1, 'y'.repeat(10_000), Buffer.alloc(20)];
    const odd = (rand: Rng): unknown => rand.pick(values);
    const oddObject = (rand: Rng, keys: string[], depth = 0): unknown =>
      rand.chance(0.1)
        ? odd(rand)
        : Object.fromEntries(
            keys
              .filter(() => rand.chance(0.5))
              .map((k) => [k, depth < 2 && rand.chance(0.2) ? oddObject(rand, keys, depth + 1) : rand.chance(0.2) ? [odd(rand), { pid: odd(rand), execId: odd(rand) }] : odd(rand)]),
          );
    const keys = [
      'exitStatus',
      'signal',
      'exitedAtMs',
      'kernelRelease',
      'memoryTotalBytes',
      'boot',
      'initStartMs',
      'channels',
      'cpu',
      'usageUsec',
      'memory',
      'pids',
      'current',
      'timestampMs',
      'processes',
      'pid',
      'execId',
      'command',
      'data',
      'len',
      'containerId',
    ];
    fuzz('agent-replies/wrong-types', (rand) => {
      // One odd message, given to every conversion (they do not change it).
      const message = oddObject(rand, keys);
      const w = (): unknown => message;
      const id = (x: unknown): never => x as never;
      decodeAndConvert(id, exitStatusFromWire, w(), checkExitStatus);
      decodeAndConvert(id, guestDetailsFromWire, w(), checkGuestDetails);
      decodeAndConvert(id, containerStatsFromWire, w(), checkStats);
      decodeAndConvert(id, processListingFromWire, w(), checkListing);
      decodeAndConvert(
        id,
        (x, r) => readStreamFromWire(x, 10, r),
        w(),
        (b) => assert.ok(b.length <= 10),
      );
      decodeAndConvert(
        id,
        (x, r) => writeStreamFromWire(x, 10, r),
        w(),
        (n) => assert.ok(isInt(n, 0, 10)),
      );
      decodeAndConvert(id, oomEventFromWire, w(), (s) => assert.ok(isBoundedString(s)));
      decodeAndConvert(
        id,
        (x: { status?: unknown }) => servingStatusFromWire(x?.status as never),
        w(),
        (s) => assert.ok(['serving', 'not-serving', 'unknown'].includes(s)),
      );
    });
  });
});
