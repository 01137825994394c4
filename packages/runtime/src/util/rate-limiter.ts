/** A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `n` tokens (default 1) if there are that many; otherwise takes none. */
  take(n = 1): boolean {
    const t = this.now();
    if (t > this.last) this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
    this.last = Math.max(this.last, t);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
