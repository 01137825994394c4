import assert from 'node:assert/strict';
import pino from 'pino';
import { GuestIdentity } from '../../src/system/guest-identity.js';

describe("a restored guest's identity: clock and randomness (fake system: never the host's clock)", () => {
  const calls: unknown[][] = [];
  const identity = new GuestIdentity(pino({ level: 'silent' }), { setClock: (s, n) => calls.push(['clock', s, n]), reseedRandom: (e) => calls.push(['seed', e.length]) });
  beforeEach(() => (calls.length = 0));

  it('sets the wall clock to what the host says, and reseeds with the host entropy', () => {
    identity.setClock(1_790_000_000, 123_456_789);
    identity.reseedRandom(Buffer.alloc(64, 7));
    assert.deepEqual(calls, [
      ['clock', 1_790_000_000, 123_456_789],
      ['seed', 64],
    ]);
  });

  it('refuses a clock before 2020 or after 2200, bad nanoseconds, and entropy outside 16-512 bytes, naming the field', () => {
    assert.throws(() => identity.setClock(0, 0), { code: 'ERR_INVALID_ARGUMENT', message: /^seconds: must be a Unix time between 2020 and 2200/ });
    assert.throws(() => identity.setClock(9_999_999_999, 0), /^Error: seconds:|seconds: must be/);
    assert.throws(() => identity.setClock(1_790_000_000, 1e9), /nanos: must be 0 to 999999999/);
    assert.throws(() => identity.reseedRandom(Buffer.alloc(8)), /entropy: must be 16 to 512 bytes \(got "8 bytes"\)/);
    assert.throws(() => identity.reseedRandom(Buffer.alloc(513)), /entropy: must be 16 to 512 bytes/);
    assert.deepEqual(calls, [], 'nothing reached the system');
  });
});
