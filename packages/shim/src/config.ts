import { existsSync } from 'node:fs';
import { loadConfig, type RuntimeConfig } from '@mayu/runtime';

/** The configuration file an installed mayu uses by default. */
export const SYSTEM_CONFIG = '/etc/mayu/configuration.toml';

/** The configuration (loaded by the server): containerd's ConfigPath, else $MAYU_CONFIG, else /etc/mayu/configuration.toml, else the defaults. */
export function shimConfig(configPath?: string): RuntimeConfig {
  const path = configPath || process.env.MAYU_CONFIG || (existsSync(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
  return loadConfig(path);
}
