import { formatValue, MayuError } from '../errors/mayu-error.js';

/**
 * Bounds on what the host takes from an agent reply. The guest is hostile
 * (Kata's threat model): every `*FromWire` conversion of a reply clamps what
 * is out of range instead of trusting it, and reports each clamp to an
 * optional {@link WireIssueSink}. Only a reply that is not even an object
 * throws, as a MayuError `ERR_AGENT_PROTOCOL`.
 */
export const GUEST_REPLY_LIMITS = {
  /** Longest string (names, versions, ids, commands) kept, in UTF-16 code units; longer ones end in "…". */
  maxString: 4096,
  /** Most entries kept of a list (processes). */
  maxList: 100_000,
  /** Most channel URLs kept from GuestDetails. */
  maxChannels: 64,
  /** Exit status: 0..255; anything else becomes 255. */
  maxExitStatus: 255,
  /** Signal: 0..64 (Linux's SIGRTMAX); anything else becomes 0. */
  maxSignal: 64,
  /** Largest pid kept (Linux's PID_MAX_LIMIT); pids <= 0 or above are dropped. */
  maxPid: 4 * 1024 * 1024,
  /** Counters, sizes and times are finite, >= 0 and at most this. */
  maxNumber: Number.MAX_SAFE_INTEGER,
} as const;

/** One value of a reply that was out of bounds, and what the host made of it. */
export interface WireIssue {
  /** The field, as a path in the reply ("processes[3].pid"). */
  field: string;
  /** What was wrong and what was done ("out of range 0..255: set to 255"). */
  problem: string;
  /** The value received, rendered short (at most ~120 characters). */
  value: string;
}

/** Receives the issues of one conversion; at most MAX_ISSUES_REPORTED are passed on. */
export type WireIssueSink = (issue: WireIssue) => void;

/** Issues passed to the sink per conversion; the rest are counted in one last issue. */
export const MAX_ISSUES_REPORTED = 16;

/**
 * The checks of one conversion of a reply. Each method returns a value within
 * bounds, reporting what it had to change.
 */
export class GuestReply {
  private issues = 0;

  constructor(
    readonly what: string,
    private readonly sink?: WireIssueSink,
  ) {}

  /** The reply itself: must be an object (ts-proto always gives one). */
  static message<T>(what: string, w: T | null | undefined): T {
    if (typeof w !== 'object' || w === null) {
      throw new MayuError('ERR_AGENT_PROTOCOL', `agent ${what}: the reply is not a message (got ${formatValue(w)})`, { details: { reply: what } });
    }
    return w;
  }

  /** A nested message, or undefined when absent (or not an object). */
  part<T extends object>(field: string, v: T | null | undefined): Partial<T> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object') {
      this.issue(field, v, 'not a message: ignored');
      return {};
    }
    return v;
  }

  /** An integer in min..max; anything else becomes `fallback`. */
  int(field: string, v: unknown, min: number, max: number, fallback: number): number {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.issue(field, v, `not an integer in ${min}..${max}: set to ${fallback}`);
    return fallback;
  }

  /** A counter or size: a finite number >= 0, an integer, at most maxNumber. */
  count(field: string, v: unknown): number {
    const n = this.number(field, v);
    if (Number.isInteger(n)) return n;
    this.issue(field, v, 'not an integer: rounded down');
    return Math.floor(n);
  }

  /** A time in ms (guest uptime): a finite number >= 0, at most maxNumber. */
  time(field: string, v: unknown): number {
    return this.number(field, v);
  }

  /** A string of at most maxString code units; a longer one is cut and ends in "…". */
  string(field: string, v: unknown): string {
    if (typeof v !== 'string') {
      if (v !== undefined) this.issue(field, v, 'not a string: set to ""');
      return '';
    }
    if (v.length <= GUEST_REPLY_LIMITS.maxString) return v;
    this.issue(field, v.slice(0, 120), `longer than ${GUEST_REPLY_LIMITS.maxString} (${v.length}): cut`);
    return truncate(v, GUEST_REPLY_LIMITS.maxString);
  }

  /** The first `max` entries of a list (none if it is not an array), each converted. */
  list<T, U>(field: string, v: readonly T[] | undefined, max: number, each: (item: T, field: string) => U): U[] {
    if (!Array.isArray(v)) {
      if (v !== undefined) this.issue(field, v, 'not a list: set to []');
      return [];
    }
    if (v.length > max) this.issue(field, v.length, `more than ${max} entries: the rest dropped`);
    const out: U[] = [];
    const n = Math.min(v.length, max);
    for (let i = 0; i < n; i++) out.push(each(v[i] as T, `${field}[${i}]`));
    return out;
  }

  /** Reports a value that was changed or dropped. */
  issue(field: string, value: unknown, problem: string): void {
    if (!this.sink) return;
    this.issues++;
    if (this.issues < MAX_ISSUES_REPORTED) {
      this.sink({ field: `${this.what}.${field}`, problem, value: render(value) });
    } else if (this.issues === MAX_ISSUES_REPORTED) {
      this.sink({ field: this.what, problem: 'more issues in this reply: not reported', value: '' });
    }
  }

  private number(field: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      this.issue(field, v, 'not a finite number >= 0: set to 0');
      return 0;
    }
    if (v > GUEST_REPLY_LIMITS.maxNumber) {
      this.issue(field, v, `above ${GUEST_REPLY_LIMITS.maxNumber}: clamped`);
      return GUEST_REPLY_LIMITS.maxNumber;
    }
    return v;
  }
}

/** A short rendering of a value: never walks an object the guest built. */
function render(value: unknown): string {
  if (Array.isArray(value)) return `[array of ${value.length}]`;
  if (typeof value === 'object' && value !== null) return '[object]';
  return formatValue(typeof value === 'string' ? value.slice(0, 120) : value);
}

/** Cuts `s` to at most `max` code units, ending in "…", without splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}
