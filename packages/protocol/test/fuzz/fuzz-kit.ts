/**
 * Seeded fuzzing for the unit suites: a small PRNG (mulberry32, as in
 * packages/ttrpc/test/frame.test.ts) and a loop that runs a property over
 * many cases, each with its own seed so that one failing case replays alone.
 *
 * Environment (read by every fuzz test; scripts/fuzz sets them):
 * - MAYU_FUZZ_CASES: cases per property (default 10,000);
 * - MAYU_FUZZ_SEED: the run's seed (default a fixed one, so the unit suite is deterministic);
 * - MAYU_FUZZ_ONLY: run only this case number (to replay a failure).
 *
 * Exported to the other packages' tests as `@mayu/protocol/testing`.
 */

/** A deterministic PRNG with helpers for building hostile input. */
export interface Rng {
  /** A float in [0, 1). */
  (): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** A length biased to small values and to the edges around `limit`. */
  size(limit: number): number;
}

export function prng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = next as Rng;
  rng.int = (n) => Math.floor(next() * n);
  rng.chance = (p) => next() < p;
  rng.pick = (items) => items[rng.int(items.length)];
  rng.bytes = (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = (next() * 4294967296) >>> 0;
      for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return b;
  };
  rng.size = (limit) => {
    const r = next();
    if (r < 0.6) return rng.int(Math.min(limit, 64) + 1);
    if (r < 0.9) return rng.int(limit + 1);
    return Math.max(0, limit - 1 + rng.int(3));
  };
  return rng;
}

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative integer`);
  return n;
};

/** The seed of the unit suite's runs: fixed, so that CI is deterministic. */
export const DEFAULT_FUZZ_SEED = 0x6d617975;
export const FUZZ_SEED = envInt('MAYU_FUZZ_SEED', DEFAULT_FUZZ_SEED);
export const FUZZ_CASES = envInt('MAYU_FUZZ_CASES', 10_000);
const ONLY = process.env.MAYU_FUZZ_ONLY ? envInt('MAYU_FUZZ_ONLY', 0) : null;

/** A mocha timeout for a fuzz test: 30 s per 10,000 cases (the default run takes a few). */
export const FUZZ_TIMEOUT_MS = 30_000 * Math.max(1, FUZZ_CASES / 10_000);

/** The seed of case `i` of a run: distinct per case and per property. */
function caseSeed(runSeed: number, property: string, i: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const c of `${property}#${i}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Case numbers to run: all of them, or only MAYU_FUZZ_ONLY. */
function* caseNumbers(cases: number): Generator<number> {
  if (ONLY !== null) yield ONLY;
  else for (let i = 0; i < cases; i++) yield i;
}

function failure(property: string, i: number, err: unknown): Error {
  const replay = `MAYU_FUZZ_SEED=${FUZZ_SEED} MAYU_FUZZ_ONLY=${i}`;
  return new Error(`fuzz "${property}" failed at case ${i} (replay: ${replay}): ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Runs `property` on FUZZ_CASES cases (or `cases`), each with a PRNG of its
 * own. A failure names the seed and the case to replay.
 */
export function fuzz(property: string, run: (rand: Rng, i: number) => void, cases = FUZZ_CASES): void {
  for (const i of caseNumbers(cases)) {
    try {
      run(prng(caseSeed(FUZZ_SEED, property, i)), i);
    } catch (err) {
      throw failure(property, i, err);
    }
  }
}

/** {@link fuzz} for a property that awaits. */
export async function fuzzAsync(property: string, run: (rand: Rng, i: number) => Promise<void>, cases = FUZZ_CASES): Promise<void> {
  for (const i of caseNumbers(cases)) {
    try {
      await run(prng(caseSeed(FUZZ_SEED, property, i)), i);
    } catch (err) {
      throw failure(property, i, err);
    }
  }
}
