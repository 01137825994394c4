import { loadConfig, type RuntimeConfig } from '@mayu/runtime';

/**
 * The configuration from --config, then $MAYU_CONFIG, else the defaults.
 * Deprecated keys it uses are said on stderr, once per command.
 */
export function configFrom(path: string | undefined): RuntimeConfig {
  const config = loadConfig(path ?? process.env.MAYU_CONFIG);
  for (const w of config.warnings) process.stderr.write(`mayu: warning: ${w}\n`);
  return config;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
