import { resolve } from 'node:path';
import { RuntimeCliError } from './errors.js';
import type { LogOptions } from './log.js';
import { DEFAULT_ROOT } from './state.js';

/** runc's global flags, as mayu-runtime takes them. */
export interface GlobalOptions {
  root: string;
  log: LogOptions;
  /** mayu's runtime configuration: --config (not a runc flag: engines pass it as a runtime argument), else $MAYU_CONFIG, else the defaults. */
  configPath: string | null;
  /** Flags accepted but without effect here, said in the log. */
  ignored: string[];
}

/** Flags that take a value, and those that do not. */
const VALUED = new Set(['--root', '--log', '--log-format', '--config', '--criu', '--rootless']);
const BOOLEAN = new Set(['--debug', '--systemd-cgroup']);

/**
 * Splits `mayu-runtime [GLOBAL FLAGS] COMMAND [ARGS]`: the global flags come
 * before the command (as engines put them), as --flag VALUE or --flag=VALUE.
 */
export function parseGlobals(argv: string[]): { globals: GlobalOptions; command: string | undefined; args: string[] } {
  const g: GlobalOptions = { root: DEFAULT_ROOT, log: { format: 'text', debug: false }, configPath: process.env.MAYU_CONFIG ?? null, ignored: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-' || ['--version', '-v', '--help', '-h'].includes(arg)) break;
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^-(?=[a-z])/, '--');
    if (BOOLEAN.has(name)) {
      if (name === '--debug') g.log.debug = eq < 0 || arg.slice(eq + 1) !== 'false';
      else g.ignored.push(`${name}: cgroups are the guest's, set up by its OCI runtime`);
      continue;
    }
    if (!VALUED.has(name)) throw new RuntimeCliError(`flag provided but not defined: ${arg}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new RuntimeCliError(`flag needs an argument: ${name}`);
    if (name === '--root') g.root = resolve(value);
    else if (name === '--log') g.log.file = resolve(value);
    else if (name === '--config') g.configPath = resolve(value);
    else if (name === '--log-format') {
      if (value !== 'text' && value !== 'json') throw new RuntimeCliError(`invalid log-format: ${value}`);
      g.log.format = value;
    } else g.ignored.push(`${name} ${value}: mayu-runtime has no use for it`);
  }
  return { globals: g, command: argv[i], args: argv.slice(i + 1) };
}
