import { parseArgs } from 'node:util';
import { listSandboxes, removeSandbox } from '@mayu/runtime';
import { UsageError } from '../usage.js';
import { configFrom, printJson } from './common.js';

export function psCommand(args: string[]): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const sandboxes = listSandboxes(configFrom(values.config));
  if (values.json) {
    printJson(sandboxes);
    return 0;
  }
  process.stdout.write(`${'ID'.padEnd(28)}${'STATUS'.padEnd(10)}${'PID'.padEnd(9)}CREATED\n`);
  for (const s of sandboxes) {
    process.stdout.write(`${s.id.padEnd(28)}${(s.running ? 'running' : 'stopped').padEnd(10)}${String(s.pid ?? '-').padEnd(9)}${s.createdAt}\n`);
  }
  return 0;
}

export async function rmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string' }, force: { type: 'boolean', short: 'f', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new UsageError('rm needs at least one sandbox id');
  const config = configFrom(values.config);
  for (const id of positionals) await removeSandbox(config, id, values.force ?? false);
  return 0;
}
