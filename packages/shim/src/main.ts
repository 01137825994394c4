import { readFileSync } from 'node:fs';
import { deleteTask } from './delete.js';
import { parseFlags } from './flags.js';
import { serve } from './server/shim-server.js';
import { start } from './start.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** containerd-shim-mayu-v2: `start`, `delete`, and its own `serve`. */
async function main(): Promise<number | null> {
  const f = parseFlags(process.argv.slice(2));
  if (f.version) {
    process.stdout.write(`containerd-shim-mayu-v2:\n  Version: ${VERSION}\n  Runtime: io.containerd.mayu.v2\n`);
    return 0;
  }
  switch (f.action) {
    case 'start':
      return start(f);
    case 'delete':
      return deleteTask(f);
    case 'serve':
      await serve(f);
      return null;
    default:
      process.stderr.write(`containerd-shim-mayu-v2: unknown action ${JSON.stringify(f.action)} (start, delete)\n`);
      return 2;
  }
}

main().then(
  (code) => {
    if (code !== null) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`containerd-shim-mayu-v2: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
