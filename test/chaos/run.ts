import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ARTIFACTS } from '../helpers/guest-factory.js';
import { formatChaos, runChaos } from './chaos.js';

/**
 * `npm run chaos -- --seed N --minutes M [--pool K]`: the chaos driver
 * against a private containerd. Prints the seed first, each fault as it is
 * injected and the first broken invariant; writes the report as JSON under
 * the test artifacts; exits 1 when an invariant broke.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seed: { type: 'string' }, minutes: { type: 'string', default: '5' }, pool: { type: 'string', default: '3' } } });
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const minutes = Number(values.minutes);
  const pool = Number(values.pool);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a whole number, not ${String(values.seed)}`);
  if (!(minutes > 0)) throw new Error(`--minutes must be above 0, not ${String(values.minutes)}`);
  if (!Number.isInteger(pool) || pool < 1) throw new Error(`--pool must be a whole number above 0, not ${String(values.pool)}`);
  process.stdout.write(`chaos: seed ${seed}, ${minutes} minutes, ${pool} tasks (rerun: npm run chaos -- --seed ${seed} --minutes ${minutes})\n`);
  const report = await runChaos({ seed, minutes, pool, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`\n${formatChaos(report)}\n`);
  const dir = join(ARTIFACTS, 'chaos');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chaos-seed-${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  process.stdout.write(`report: ${file}\n`);
  return report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
