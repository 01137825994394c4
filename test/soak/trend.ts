/**
 * Telling a leak from noise in a series of memory samples: the first fifth is
 * warm-up (JIT, caches, pools filling) and is dropped; over the rest, the
 * Theil–Sen slope (the median of the slopes between every pair of samples,
 * robust to GC spikes) projected over the whole run is the growth. A leak is
 * growth beyond `minMib` and beyond `fraction` of the level.
 */
export interface Sample {
  /** Cycle number (or any monotone x). */
  at: number;
  mib: number;
}

export interface Trend {
  samples: number;
  firstMib: number;
  lastMib: number;
  /** MiB per 1,000 cycles, Theil–Sen over the samples after warm-up. */
  slopePerThousand: number;
  /** The slope times the whole run's span (MiB): what the run would have leaked. */
  projectedGrowthMib: number;
  leak: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

export function trendOf(all: Sample[], o: { minMib: number; fraction: number }): Trend {
  const samples = all.filter((s) => Number.isFinite(s.mib));
  const kept = samples.slice(Math.floor(samples.length / 5));
  const slopes: number[] = [];
  for (let i = 0; i < kept.length; i++)
    for (let j = i + 1; j < kept.length; j++) {
      const a = kept[i];
      const b = kept[j];
      if (b.at !== a.at) slopes.push((b.mib - a.mib) / (b.at - a.at));
    }
  const slope = slopes.length ? median(slopes) : 0;
  const span = samples.length > 1 ? samples[samples.length - 1].at - samples[0].at : 0;
  const growth = slope * span;
  const level = median(kept.map((s) => s.mib));
  return {
    samples: samples.length,
    firstMib: samples[0]?.mib ?? NaN,
    lastMib: samples[samples.length - 1]?.mib ?? NaN,
    slopePerThousand: slope * 1000,
    projectedGrowthMib: growth,
    leak: kept.length >= 4 && growth > o.minMib && growth > o.fraction * level,
  };
}

export const formatTrend = (name: string, t: Trend): string =>
  `${name.padEnd(28)} ${t.firstMib.toFixed(1).padStart(7)} -> ${t.lastMib.toFixed(1).padStart(7)} MiB  slope ${t.slopePerThousand.toFixed(2).padStart(7)} MiB/1000  growth ${t.projectedGrowthMib.toFixed(1).padStart(6)} MiB  ${t.leak ? 'LEAK' : 'ok'} (${t.samples} samples)`;
