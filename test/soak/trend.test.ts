import assert from 'node:assert/strict';
import { trendOf } from './trend.js';

const LEAK = { minMib: 8, fraction: 0.1 };
/** A deterministic jitter in [-amp, amp]. */
const jitter = (i: number, amp: number): number => amp * Math.sin(i * 12.9898) * Math.cos(i * 78.233);

describe('soak trend: a leak versus noise', () => {
  it('flat memory with GC noise and a warm-up climb is not a leak', () => {
    const samples = Array.from({ length: 40 }, (_, i) => ({ at: i * 25, mib: (i < 6 ? 40 + i * 5 : 70) + jitter(i, 6) }));
    const t = trendOf(samples, LEAK);
    assert.equal(t.leak, false, JSON.stringify(t));
  });

  it('10 KiB per cycle over 1,000 cycles is a leak, even with noise and a spike', () => {
    const samples = Array.from({ length: 40 }, (_, i) => ({ at: i * 25, mib: 60 + (i * 25 * 10) / 1024 + jitter(i, 3) + (i === 20 ? 40 : 0) }));
    const t = trendOf(samples, LEAK);
    assert.equal(t.leak, true, JSON.stringify(t));
    assert.ok(Math.abs(t.slopePerThousand - 9.77) < 1.5, `slope ${t.slopePerThousand}`);
  });

  it('growth under 8 MiB, or under a tenth of a large level, is not a leak; NaN samples are skipped', () => {
    const small = Array.from({ length: 20 }, (_, i) => ({ at: i, mib: 20 + i * 0.3 }));
    assert.equal(trendOf(small, LEAK).leak, false);
    const large = Array.from({ length: 20 }, (_, i) => ({ at: i, mib: i === 3 ? NaN : 500 + i * 2 }));
    const t = trendOf(large, LEAK);
    assert.equal(t.samples, 19);
    assert.equal(t.leak, false, 'about 30 MiB on 500 MiB');
  });

  it('too few samples never call a leak', () => {
    assert.equal(
      trendOf(
        [
          { at: 0, mib: 10 },
          { at: 1, mib: 100 },
        ],
        LEAK,
      ).leak,
      false,
    );
  });
});
