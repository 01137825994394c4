import { isMayuError } from '@mayu/protocol';
import { withSystemPath } from '@mayu/runtime';
import type { Logger } from 'pino';
import { createCommand } from './commands/create.js';
import { execCommand, execHolderCommand } from './commands/exec.js';
import { eventsCommand, featuresCommand, psCommand, updateCommand, versionText } from './commands/inspect.js';
import { deleteCommand, killCommand, listCommand, pauseCommand, startCommand, stateCommand } from './commands/lifecycle.js';
import { RuntimeCliError } from './errors.js';
import { parseGlobals, type GlobalOptions } from './globals.js';
import { holderCommand } from './holder.js';
import { podKeeperCommand } from './pod-keeper.js';
import { createRuntimeLogger } from './log.js';

const USAGE = `usage: mayu-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND
A runc-compatible command line: each container runs in its own mayu micro-VM.
commands: create start state kill delete exec ps pause resume update events list features
`;

async function dispatch(command: string | undefined, args: string[], g: GlobalOptions, log: Logger): Promise<number> {
  switch (command) {
    case 'create':
      return createCommand(args, g, log);
    case 'start':
      return startCommand(args, g);
    case 'state':
      return stateCommand(args, g);
    case 'kill':
      return killCommand(args, g);
    case 'delete':
      return deleteCommand(args, g, log);
    case 'exec':
      return execCommand(args, g, log);
    case 'ps':
      return psCommand(args, g);
    case 'pause':
    case 'resume':
      return pauseCommand(args, g, command);
    case 'update':
      return updateCommand(args, g);
    case 'events':
      return eventsCommand(args, g);
    case 'list':
      return listCommand(args, g);
    case 'features':
      return featuresCommand();
    case '_holder':
      return holderCommand(args);
    case '_pod':
      return podKeeperCommand(args);
    case '_exec':
      return execHolderCommand(args, g, log);
    case '--version':
    case '-v':
      process.stdout.write(versionText());
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case undefined:
      throw new RuntimeCliError('no command given');
    default:
      throw new RuntimeCliError(`No help topic for '${command}'`);
  }
}

/** Exits once what was written is out. */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

async function main(argv: string[]): Promise<number> {
  process.env.PATH = withSystemPath();
  let parsed: ReturnType<typeof parseGlobals>;
  try {
    parsed = parseGlobals(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  const { globals, command, args } = parsed;
  // A holder's stderr is the container's (or the exec's): it never writes there itself.
  const isHolder = command === '_exec' || command === '_holder' || command === '_pod';
  const log = createRuntimeLogger(isHolder && !globals.log.file ? { ...globals.log, file: '/dev/null' } : globals.log);
  for (const note of globals.ignored) log.info(`accepted without effect: ${note}`);
  try {
    return await dispatch(command, args, globals, log);
  } catch (err) {
    // runc's way: the message at level error in the log, and on stderr; status 1.
    const message =
      err instanceof RuntimeCliError || isMayuError(err) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? (err as Error).message
        : `unexpected error: ${(err as Error).stack ?? String(err)}`;
    log.error(message);
    if (globals.log.file && !isHolder) process.stderr.write(`${message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(exit, (err: unknown) => {
  process.stderr.write(`mayu-runtime: ${String(err)}\n`);
  exit(1);
});
