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

  it('carries several sessions at once, each its own stream', async () => {
    const [hostSide, guestSide] = duplexPair();
    const guest = echoGuest(guestSide);
    const host = new HostChannel(hostSide);
    const [a, b] = await Promise.all([host.openSession(1000), host.openSession(1000)]);
    assert.notEqual(a.session, b.session);
    assert.equal(guest.openSessions, 2);
    const replies = Promise.all([readAllOf(a), readAllOf(b)]);
    a.write('first');
    b.write('second');
    await new Promise((r) => setTimeout(r, 20));
    a.end();
    b.end();
    assert.deepEqual(await replies, ['FIRST', 'SECOND']);
  });

  it('a new host (new epoch) closes the old host sessions, and stale bytes never reach it', async () => {
    const [host1Side, guest1Side] = duplexPair();
    const guest = echoGuest(guest1Side);
    const old = await new HostChannel(host1Side).openSession(1000);
    const oldOnGuest = guest.sessionById(old.session);
    assert.ok(oldOnGuest);
    // QEMU hands the port to the next client, with bytes of the old one still queued.
    const [host2Side, guest2Side] = duplexPair();
    host2Side.write(Buffer.concat([Buffer.from('stale bytes'), encodeFrame(FrameType.Data, old.session, Buffer.from('old'))]));
    guest.attach(guest2Side);
    const host2 = new HostChannel(host2Side);
    const fresh = await host2.openSession(1000);
    assert.ok(oldOnGuest.destroyed, 'the old host session was closed in the guest');
    assert.equal(guest.hostEpoch, host2.epoch);
    const reply = readAllOf(fresh);
    fresh.end('again');
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
    assert.ok(guest.sessionById(s.session));
  });
});
