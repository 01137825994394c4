import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkHost } from '@mayu/runtime';
import { configFrom, printJson } from './common.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** Defined by scripts/bundle-host.mjs in an installed bundle. */
declare const __MAYU_VERSION__: string | undefined;

export function runtimeVersion(): string {
  if (typeof __MAYU_VERSION__ === 'string') return __MAYU_VERSION__;
  const pkg = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

export async function checkCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const report = await checkHost(configFrom(values.config), runtimeVersion());
  if (values.json) {
    printJson(report);
  } else {
    for (const c of report.checks) {
      process.stdout.write(`[${MARK[c.status]}] ${c.name.padEnd(12)} ${c.detail}\n`);
      if (c.fix) process.stdout.write(`       ${''.padEnd(12)} -> ${c.fix}\n`);
    }
    process.stdout.write(`${report.verdict}\n`);
  }
  return report.canRun ? 0 : 1;
}
