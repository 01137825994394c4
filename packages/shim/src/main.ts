import { readFileSync } from 'node:fs';
import { parseFlags } from './flags.js';

/** Defined by scripts/bundle-host.mjs in an installed bundle. */
declare const __MAYU_VERSION__: string | undefined;

const VERSION = typeof __MAYU_VERSION__ === 'string' ? __MAYU_VERSION__ : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** containerd-shim-mayu-v2: `start`, `delete`, and its own `serve`. */
async function main(): Promise<number | null> {
  const f = parseFlags(process.argv.slice(2));
  if (f.version) {
    process.stdout.write(`containerd-shim-mayu-v2:\n  Version: ${VERSION}\n  Runtime: io.containerd.mayu.v2\n`);
    return 0;
  }
  switch (f.action) {
    // Each action loads only what it needs: containerd runs `start` and
    // `delete` for every task, and the server's modules take ~0.3 s to load.
    case 'start':
      return (await import('./start.js')).start(f);
    case 'delete':
      return (await import('./delete.js')).deleteTask(f);
    case 'serve':
      await (await import('./server/shim-server.js')).serve(f);
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
