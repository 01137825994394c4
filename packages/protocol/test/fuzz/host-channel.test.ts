import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { MAX_SESSION_BUFFER } from '../../src/channel/channel-endpoint.js';
import { encodeData, encodeFrame, FrameDecoder, FrameType, MAX_FRAME_PAYLOAD } from '../../src/channel/frame.js';
import { HostChannel } from '../../src/channel/host-channel.js';
import type { SessionStream } from '../../src/channel/session-stream.js';
import { isMayuError } from '../../src/errors/mayu-error.js';
import { fuzzAsync, FUZZ_TIMEOUT_MS, type Rng } from './fuzz-kit.js';

/** The hypervisor's chardev socket, seen from the host: what the host writes is kept, what the guest sends is emitted. */
class FakeLink extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.written.push(chunk);
    done();
  }
  /** The sessions the host said Hello to so far. */
  helloSessions(): number[] {
    return new FrameDecoder()
      .push(Buffer.concat(this.written))
      .filter((f) => f.type === FrameType.Hello)
      .map((f) => f.session);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A guest's bytes: frames of every type for known, closed and unknown sessions, floods, garbage. */
function guestFrames(rand: Rng, known: number[]): Buffer[] {
  const frames: Buffer[] = [];
  const session = (): number => (known.length > 0 && rand.chance(0.7) ? rand.pick(known) : rand.pick([0, 0xffffffff, rand.int(2 ** 32)]));
  for (let n = rand.int(12); n > 0; n--) {
    const pick = rand();
    if (pick < 0.25) frames.push(encodeFrame(FrameType.Welcome, session(), rand.bytes(rand.size(16))));
    else if (pick < 0.55) frames.push(...encodeData(session(), rand.bytes(rand.chance(0.02) ? 3 * MAX_FRAME_PAYLOAD : rand.size(512))));
    else if (pick < 0.7) frames.push(encodeFrame(FrameType.Close, session()));
    else if (pick < 0.75) frames.push(...Array.from({ length: 1 + rand.int(200) }, () => encodeFrame(FrameType.Close, session())));
    else if (pick < 0.85) frames.push(encodeFrame(FrameType.Hello, session(), rand.bytes(8)));
    else frames.push(rand.bytes(rand.size(100)));
  }
  return frames;
}

describe('fuzz: host end of the serial channel', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('takes any frames for any session without throwing, and holds bounded data', async () => {
    await fuzzAsync('host-channel/frames', async (rand) => {
      const link = new FakeLink();
      const host = new HostChannel(link);
      const streams: SessionStream[] = [];
      const opening: Promise<unknown>[] = [];
      const open = (s: SessionStream): void => {
        s.on('error', () => {});
        if (rand.chance(0.5)) s.resume();
        streams.push(s);
      };
      try {
        for (let k = rand.int(4); k > 0; k--) {
          opening.push(host.openSession(60_000).then(open, (err: unknown) => assert.ok(isMayuError(err), `openSession rejected with ${String(err)}`)));
        }
        const stream = Buffer.concat(guestFrames(rand, link.helloSessions()));
        for (let at = 0; at < stream.length;) {
          const step = 1 + rand.int(rand.chance(0.5) ? 64 : 70_000);
          link.emit('data', stream.subarray(at, at + step));
          at += step;
          if (rand.chance(0.3)) await tick();
          if (streams.length > 0 && rand.chance(0.05)) rand.pick(streams).destroy();
          for (const s of streams) assert.ok(s.readableLength <= MAX_SESSION_BUFFER + MAX_FRAME_PAYLOAD, `a session holds ${s.readableLength} bytes`);
          assert.ok(host.openSessions <= opening.length, `${host.openSessions} sessions open, ${opening.length} asked for`);
          assert.ok(host.discardedBytes <= stream.length);
        }
      } finally {
        host.close();
      }
      await Promise.all(opening);
      assert.equal(host.openSessions, 0);
    });
  });

  it('drops a session whose guest ignores flow control', async () => {
    const link = new FakeLink();
    const host = new HostChannel(link);
    const opening = host.openSession(60_000);
    const [id] = link.helloSessions();
    link.emit('data', encodeFrame(FrameType.Welcome, id));
    const s = await opening;
    const errors: Error[] = [];
    s.on('error', (err) => errors.push(err));
    const chunk = Buffer.concat(encodeData(id, Buffer.alloc(MAX_FRAME_PAYLOAD)));
    for (let sent = 0; sent <= MAX_SESSION_BUFFER + MAX_FRAME_PAYLOAD; sent += MAX_FRAME_PAYLOAD) link.emit('data', chunk);
    await tick();
    assert.equal(s.destroyed, true);
    assert.match(errors[0]?.message ?? '', /exceeded/);
    assert.equal(host.openSessions, 0);
    const stale = host.staleFrames;
    link.emit('data', chunk);
    assert.equal(host.staleFrames, stale + 1);
    host.close();
  });
});
