import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { RateLimiter } from '../util/rate-limiter.js';

/** Longest guest log line kept; the rest is cut. */
export const MAX_GUEST_LINE = 16 * 1024;

const LEVEL_NAMES: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * Re-logs the agent's pino lines (from its log console) on the host logger,
 * each under a `guest` key, at the guest's level. Untrusted input: lines are
 * bounded, non-JSON lines are kept as text, and a flood is rate-limited with
 * a count of what was dropped.
 */
export class GuestLogRelay {
  private partial = '';
  private dropped = 0;
  private readonly limiter: RateLimiter;
  private lastDropReport = 0;

  constructor(
    private readonly log: Logger,
    options: { linesPerSec?: number; burst?: number } = {},
  ) {
    this.limiter = new RateLimiter(options.linesPerSec ?? 200, options.burst ?? 1000);
  }

  attach(stream: Readable): void {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.push(chunk));
    stream.on('error', () => {});
    stream.on('close', () => this.flush());
  }

  push(chunk: string): void {
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      this.line(this.partial.slice(0, nl));
      this.partial = this.partial.slice(nl + 1);
    }
    if (this.partial.length > MAX_GUEST_LINE) {
      this.line(this.partial);
      this.partial = '';
    }
  }

  flush(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.reportDrops(true);
  }

  private line(raw: string): void {
    const text = raw.replace(/\r$/, '').slice(0, MAX_GUEST_LINE);
    if (!text.trim()) return;
    if (!this.limiter.take()) {
      this.dropped++;
      this.reportDrops(false);
      return;
    }
    let guest: unknown = text;
    let level: (typeof LEVEL_NAMES)[number] = 'info';
    if (text.startsWith('{')) {
      try {
        const parsed = JSON.parse(text) as Record<string, unknown>;
        guest = parsed;
        level = LEVEL_NAMES[parsed.level as number] ?? 'info';
      } catch {
        guest = text;
      }
    }
    const msg = typeof guest === 'object' && guest && typeof (guest as { msg?: unknown }).msg === 'string' ? String((guest as { msg: string }).msg) : 'guest output';
    this.log[level]({ guest }, msg);
  }

  private reportDrops(force: boolean): void {
    const now = performance.now();
    if (this.dropped === 0 || (!force && now - this.lastDropReport < 5000)) return;
    this.log.warn({ droppedLines: this.dropped }, 'guest log rate limit: lines dropped');
    this.dropped = 0;
    this.lastDropReport = now;
  }
}
