import { isMayuError } from '@mayu/protocol';
import { bootCommand } from './commands/boot.js';
import { checkCommand } from './commands/check.js';
import { psCommand, rmCommand } from './commands/sandboxes.js';
import { runCommand } from './commands/run.js';
import { execCommand, killCommand, logsCommand } from './commands/containers.js';
import { monitorCommand } from './commands/monitor.js';
import { templateCommand } from './commands/template.js';
import { createCliLogger } from './logger.js';
import { USAGE, UsageError } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const log = createCliLogger();
  switch (command) {
    case 'boot':
      return bootCommand(args, log);
    case 'check':
      return checkCommand(args);
    case 'run':
      return runCommand(args, log);
    case 'exec':
      return execCommand(args);
    case 'kill':
      return killCommand(args);
    case 'logs':
      return logsCommand(args);
    case '_monitor':
      return monitorCommand(args, log);
    case 'ps':
      return psCommand(args, log);
    case 'rm':
      return rmCommand(args);
    case 'template':
      return templateCommand(args, log);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/**
 * mayu's own failures exit 125; a command that cannot be found or run in a
 * container exits 127 or 126, as a shell (and docker) report them.
 */
function exitStatusOf(code: string): number {
  if (code === 'ERR_COMMAND_NOT_FOUND') return 127;
  if (code === 'ERR_COMMAND_NOT_EXECUTABLE') return 126;
  return 125;
}

/** Exits once what was written to stdout and stderr is out (stdin or a stray handle must not keep us). */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      process.stderr.write(`mayu: ${(err as Error).message}\n\n${USAGE}`);
      exit(2);
    } else if (isMayuError(err)) {
      process.stderr.write(`mayu: ${err.message} [${err.code}]\n`);
      exit(exitStatusOf(err.code));
    } else {
      process.stderr.write(`mayu: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      exit(125);
    }
  },
);
