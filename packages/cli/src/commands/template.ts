import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { invalidArgument } from '@mayu/protocol';
import { listTemplates, Sandbox, TemplateStore } from '@mayu/runtime';
import type { Logger } from 'pino';
import { UsageError } from '../usage.js';
import { configFrom, printJson } from './common.js';

/** A positive integer option, or its default. */
function count(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw invalidArgument(`--${name}`, value, `must be an integer from 0 to ${max}`);
  return n;
}

/** mayu template build|ls|rm: the VM templates sandboxes start from ([factory] in the configuration). */
export async function templateCommand(args: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'build':
      return build(rest, log);
    case 'ls':
      return list(rest);
    case 'rm':
      return remove(rest, log);
    default:
      throw new UsageError(`mayu template: expected build, ls or rm${sub ? `, not ${JSON.stringify(sub)}` : ''}`);
  }
}

async function build(args: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, nics: { type: 'string' }, mtu: { type: 'string' }, vcpus: { type: 'string' }, memory: { type: 'string' } },
    strict: true,
  });
  const config = configFrom(values.config);
  if (!config.factory.template) throw invalidArgument('factory.template', false, 'templates are off in this configuration');
  const sandbox = Sandbox.create({
    id: `template-build-${randomBytes(4).toString('hex')}`,
    config,
    log,
    vcpus: count('vcpus', values.vcpus, config.sandbox.defaultVcpus, config.sandbox.maxVcpus),
    memoryMib: count('memory', values.memory, config.sandbox.defaultMemoryMib, config.sandbox.maxMemoryMib),
  });
  try {
    const t = await sandbox.template({ nics: count('nics', values.nics, 0, 8), mtu: count('mtu', values.mtu, 1500, 65535) });
    if (!t) {
      process.stderr.write('mayu: no template: this kind of sandbox boots cold, or another process is building it\n');
      return 1;
    }
    process.stdout.write(`${t.manifest.key}\n`);
    return 0;
  } finally {
    await sandbox.destroy();
  }
}

function list(args: string[]): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const templates = listTemplates(configFrom(values.config));
  if (values.json) {
    printJson(templates);
    return 0;
  }
  process.stdout.write(`${'KEY'.padEnd(18)}${'CREATED'.padEnd(26)}${'VCPUS'.padEnd(7)}${'MEMORY'.padEnd(9)}${'NICS'.padEnd(6)}${'RESIDENT'.padEnd(10)}STATE\n`);
  for (const t of templates) {
    process.stdout.write(
      `${t.key.padEnd(18)}${t.createdAt.padEnd(26)}${String(t.vcpus).padEnd(7)}${`${t.memoryMib}M`.padEnd(9)}${String(t.nics).padEnd(6)}${`${t.residentMib}M`.padEnd(10)}${t.stale ? 'stale' : 'current'}\n`,
    );
  }
  return 0;
}

function remove(args: string[], log: Logger): number {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string' }, all: { type: 'boolean', default: false }, stale: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0 && !values.all && !values.stale) throw new UsageError('mayu template rm: name templates by key, or --stale, or --all');
  const config = configFrom(values.config);
  const store = new TemplateStore(config.factory.templateDir, log);
  const templates = listTemplates(config);
  const doomed = values.all ? templates.map((t) => t.key) : values.stale ? templates.filter((t) => t.stale).map((t) => t.key) : positionals;
  let status = 0;
  for (const key of doomed) {
    if (store.remove(key)) process.stdout.write(`${key}\n`);
    else {
      process.stderr.write(`mayu: no template ${key}\n`);
      status = 1;
    }
  }
  return status;
}
