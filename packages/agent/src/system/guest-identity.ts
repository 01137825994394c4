import { invalidArgument } from '@mayu/protocol';
import type { Logger } from 'pino';
import { sys } from './sys.js';

/** What setting the guest's identity needs of the system (tests give fakes: never the host's clock). */
export interface IdentitySystem {
  setClock(seconds: number, nanos: number): void;
  reseedRandom(entropy: Buffer): void;
}

/** A wall clock before this (2020-01-01) or after this (2200-01-01) is a host mistake. */
const MIN_SECONDS = 1_577_836_800;
const MAX_SECONDS = 7_258_118_400;

/**
 * What makes one guest not another, beyond hostname and sandbox id: its
 * wall clock and its kernel's random state. A VM restored from a template
 * starts with the template's of both; the host sets them right after the
 * restore, before anything else runs.
 */
export class GuestIdentity {
  constructor(
    private readonly log: Logger,
    private readonly system: IdentitySystem = { setClock: (s, n) => sys().setClock(s, n), reseedRandom: (e) => sys().reseedRandom(e) },
  ) {}

  setClock(seconds: number, nanos: number): void {
    if (!Number.isSafeInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) throw invalidArgument('seconds', seconds, 'must be a Unix time between 2020 and 2200');
    if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) throw invalidArgument('nanos', nanos, 'must be 0 to 999999999');
    const before = Date.now();
    this.system.setClock(seconds, nanos);
    this.log.info({ event: 'guest.clock', stepMs: seconds * 1000 + Math.floor(nanos / 1e6) - before }, 'wall clock set');
  }

  reseedRandom(entropy: Buffer): void {
    if (entropy.length < 16 || entropy.length > 512) throw invalidArgument('entropy', `${entropy.length} bytes`, 'must be 16 to 512 bytes');
    this.system.reseedRandom(entropy);
    this.log.info({ event: 'guest.reseeded', bytes: entropy.length }, 'random number generator reseeded');
  }
}
