import type { Readable } from 'node:stream';
import { truncate } from '@mayu/protocol';
import type { Logger } from 'pino';
import { RateLimiter } from '../util/rate-limiter.js';

/** Longest guest log line kept, in UTF-16 code units; the rest of the line is dropped. */
export const MAX_GUEST_LINE = 16 * 1024;
/** Longest `msg` taken from a guest JSON line; a longer one is cut and ends in "…". */
export const MAX_GUEST_MSG = 1024;
/** Deepest nesting of a guest JSON line kept as an object; a deeper line is logged as text. */
export const MAX_GUEST_DEPTH = 32;
/** At most one warning about dropped lines per this many ms. */
export const DROP_REPORT_INTERVAL_MS = 5000;

export interface GuestLogRelayOptions {
  /** Lines a second, sustained. Default 200. */
  linesPerSec?: number;
  /** Lines that may arrive at once after a quiet spell. Default 1000. */
  burstLines?: number;
  /** Bytes a second, sustained, of what is logged (the `guest` value as JSON plus `msg`). Default 64 KiB. */
  bytesPerSec?: number;
  /** Bytes that may be logged at once after a quiet spell. Default 1 MiB. */
  burstBytes?: number;
  /** The clock, in ms (for tests). Default `performance.now()`. */
  now?: () => number;
}

type Level = 'trace' | 'debug' | 'info' | 'warn';

/** A guest line is logged at most at `warn`: a guest must not page the host's operators. */
const LEVEL_OF: Readonly<Record<number, Level>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'warn', 60: 'warn' };

interface Entry {
  level: Level;
  guest: unknown;
  msg: string;
  /** Bytes this entry adds to the host log, less pino's own fields. */
  cost: number;
}

/**
 * Re-logs the agent's pino lines (from its log console) on the host logger,
 * each under a `guest` key. Untrusted input:
 * - a line is cut at MAX_GUEST_LINE as it arrives (the rest is dropped up to
 *   the next newline), so memory and work stay linear in the input;
 * - a JSON line is kept as an object only if it is at most MAX_GUEST_DEPTH
 *   deep and its re-serialised form stays within MAX_GUEST_LINE; otherwise
 *   (and for any other line) it is logged as text;
 * - its level is the guest's, at most `warn` (unknown or non-numeric: `info`);
 *   its `msg`, if a string, is cut at MAX_GUEST_MSG;
 * - lines and bytes are rate-limited by two token buckets, and what is
 *   dropped is counted in one warning every DROP_REPORT_INTERVAL_MS.
 */
export class GuestLogRelay {
  private partial = '';
  /** The current line was cut: drop the rest of it up to the next newline. */
  private skipping = false;
  private readonly lines: RateLimiter;
  private readonly bytes: RateLimiter;
  private readonly now: () => number;
  private dropped = { lines: 0, bytes: 0, truncatedLines: 0 };
  private lastDropReport = -Infinity;

  constructor(
    private readonly log: Logger,
    options: GuestLogRelayOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.lines = new RateLimiter(options.linesPerSec ?? 200, options.burstLines ?? 1000, this.now);
    this.bytes = new RateLimiter(options.bytesPerSec ?? 64 * 1024, options.burstBytes ?? 1024 * 1024, this.now);
  }

  attach(stream: Readable): void {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.push(chunk));
    stream.on('error', () => {});
    stream.on('close', () => this.flush());
  }

  push(chunk: string): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf('\n', from);
      this.append(chunk, from, nl < 0 ? chunk.length : nl);
      if (nl < 0) return;
      if (!this.skipping) this.line(this.partial);
      this.partial = '';
      this.skipping = false;
      from = nl + 1;
    }
  }

  flush(): void {
    if (this.partial && !this.skipping) this.line(this.partial);
    this.partial = '';
    this.skipping = false;
    this.reportDrops(true);
  }

  /** Adds chunk[from, end) to the current line, cutting the line at MAX_GUEST_LINE. */
  private append(chunk: string, from: number, end: number): void {
    if (this.skipping) {
      this.dropped.bytes += Buffer.byteLength(chunk.slice(from, end));
      return;
    }
    const room = MAX_GUEST_LINE - this.partial.length;
    if (end - from <= room) {
      this.partial += chunk.slice(from, end);
      return;
    }
    this.partial += chunk.slice(from, from + room);
    this.dropped.bytes += Buffer.byteLength(chunk.slice(from + room, end));
    this.dropped.truncatedLines++;
    this.line(this.partial);
    this.partial = '';
    this.skipping = true;
  }

  private line(raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!text.trim()) return;
    if (!this.lines.take()) {
      this.drop(text);
      return;
    }
    const entry = parseLine(text);
    if (!this.log.isLevelEnabled(entry.level)) return;
    if (!this.bytes.take(entry.cost)) {
      this.drop(text);
      return;
    }
    this.log[entry.level]({ guest: entry.guest }, entry.msg);
    this.reportDrops(false);
  }

  private drop(text: string): void {
    this.dropped.lines++;
    this.dropped.bytes += Buffer.byteLength(text);
    this.reportDrops(false);
  }

  private reportDrops(force: boolean): void {
    const { lines, bytes, truncatedLines } = this.dropped;
    if (lines === 0 && bytes === 0) return;
    const now = this.now();
    if (!force && now - this.lastDropReport < DROP_REPORT_INTERVAL_MS) return;
    this.log.warn({ droppedLines: lines, droppedBytes: bytes, truncatedLines }, 'guest log lines dropped (rate limit or length)');
    this.dropped = { lines: 0, bytes: 0, truncatedLines: 0 };
    this.lastDropReport = now;
  }
}

/** What to log for one guest line. Never throws. */
function parseLine(text: string): Entry {
  if (text.startsWith('{') && !tooDeep(text)) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const json = JSON.stringify(parsed);
      if (json.length <= MAX_GUEST_LINE) {
        const msg = typeof parsed.msg === 'string' ? truncate(parsed.msg, MAX_GUEST_MSG) : 'guest output';
        const level = typeof parsed.level === 'number' ? (LEVEL_OF[parsed.level] ?? 'info') : 'info';
        return { level, guest: parsed, msg, cost: Buffer.byteLength(json) + Buffer.byteLength(msg) };
      }
    } catch {
      // Not JSON after all: logged as text.
    }
  }
  const msg = 'guest output';
  return { level: 'info', guest: text, msg, cost: Buffer.byteLength(JSON.stringify(text)) + msg.length };
}

/** Whether JSON text nests objects and arrays deeper than MAX_GUEST_DEPTH (brackets in strings do not count). */
function tooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_GUEST_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}
