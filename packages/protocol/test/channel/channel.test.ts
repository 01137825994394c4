import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { encodeFrame, FrameType } from '../../src/channel/frame.js';
import { GuestChannel } from '../../src/channel/guest-channel.js';
import { HostChannel } from '../../src/channel/host-channel.js';
import type { SessionStream } from '../../src/channel/session-stream.js';
import { duplexPair } from './duplex-pair.js';

function readAllOf(stream: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  });
}

/** A guest that echoes every session back, upper-cased. */
function echoGuest(port: Duplex): GuestChannel {
  const guest = new GuestChannel();
  guest.on('session', (s: SessionStream) => {
    s.on('data', (c: Buffer) => s.write(c.toString().toUpperCase()));
    s.on('end', () => s.end());
  });
  guest.attach(port);
  return guest;
}

describe('serial channel sessions', () => {
  it('carries a session both ways and ends it with Close', async () => {
    const [hostSide, guestSide] = duplexPair();
    echoGuest(guestSide);
    const host = new HostChannel(hostSide);
    const s = await host.openSession(1000);
    const reply = readAllOf(s);
    s.write('hello ');
    s.write('guest');
    await new Promise((r) => setTimeout(r, 20));
    s.end();
    assert.equal(await reply, 'HELLO GUEST');
  });

  it('drops bytes written before the session and data of superseded sessions', async () => {
    const [hostSide, guestSide] = duplexPair();
    const guest = echoGuest(guestSide);
    // What QEMU would hand over from an earlier host: garbage and a frame of an old session.
    hostSide.write(Buffer.concat([Buffer.from('stale bytes'), encodeFrame(FrameType.Data, 99, Buffer.from('old'))]));
    const host = new HostChannel(hostSide);
    const first = await host.openSession(1000);
    const second = await host.openSession(1000);
    assert.ok(first.destroyed, 'the superseded session is closed on the host');
    assert.equal(guest.currentSession?.session, second.session);
    const reply = readAllOf(second);
    second.end('again');
    assert.equal(await reply, 'AGAIN');
    assert.ok(guest.staleFrames >= 1);
    assert.ok(guest.discardedBytes >= 'stale bytes'.length);
  });

  it('times out when no guest answers', async () => {
    const [hostSide] = duplexPair();
    const host = new HostChannel(hostSide);
    await assert.rejects(host.openSession(50), { code: 'ERR_AGENT_TIMEOUT' });
  });

  it('ends the session when the link closes', async () => {
    const [hostSide, guestSide] = duplexPair();
    echoGuest(guestSide);
    const host = new HostChannel(hostSide);
    const s = await host.openSession(1000);
    const closed = once(s, 'close');
    hostSide.destroy();
    await closed;
    await assert.rejects(host.openSession(50), { code: 'ERR_UNAVAILABLE' });
  });
});

describe('serial channel: lost Hello', () => {
  it('repeats Hello until the guest answers, and the guest answers repeats without a new session', async () => {
    const [hostSide, guestSide] = duplexPair();
    const host = new HostChannel(hostSide);
    const opened = host.openSession(2000);
    // The guest is not reading yet: its first Hello is lost, as when a port is being reopened.
    await new Promise((r) => setTimeout(r, 50));
    const lost: Buffer[] = [];
    while (guestSide.read() !== null) lost.push(Buffer.alloc(0));
    assert.ok(lost.length > 0, 'a Hello was written');
    let sessions = 0;
    const guest = new GuestChannel();
    guest.on('session', () => sessions++);
    guest.attach(guestSide);
    const s = await opened;
    await new Promise((r) => setTimeout(r, 450)); // two more resend periods
    assert.equal(sessions, 1);
    assert.equal(guest.currentSession?.session, s.session);
  });
});
