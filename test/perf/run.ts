import { parseArgs } from 'node:util';
import { bootBench, formatBootBench } from './boot.bench.js';

const BENCHMARKS = ['boot'] as const;

/** `npm run bench -- <name> [--runs N] [--json] [--config-toml TOML]` */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { runs: { type: 'string', default: '10' }, json: { type: 'boolean', default: false }, 'config-toml': { type: 'string', default: '' } },
    allowPositionals: true,
  });
  const name = positionals[0] ?? 'boot';
  const runs = Number(values.runs);
  if (!BENCHMARKS.includes(name as (typeof BENCHMARKS)[number]) || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}> [--runs N] [--json] [--config-toml TOML]\n`);
    return 2;
  }
  const result = await bootBench(runs, values['config-toml']);
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatBootBench(result)}\n`);
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
