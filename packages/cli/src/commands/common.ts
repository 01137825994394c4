import { loadConfig, type RuntimeConfig } from '@mayu/runtime';

/** The configuration from --config, then $MAYU_CONFIG, else the defaults. */
export function configFrom(path: string | undefined): RuntimeConfig {
  return loadConfig(path ?? process.env.MAYU_CONFIG);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
