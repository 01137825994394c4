/**
 * A stand-in virtiofsd for contract tests: answers --help like the Rust
 * virtiofsd (so the driver passes --socket-path/--shared-dir), listens on
 * its socket (the fake CH checks it can connect at vm.boot, as the real one
 * connects), serves nothing, and exits on SIGTERM.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  process.stdout.write('virtiofsd (fake)\n  --socket-path <path>\n  --shared-dir <dir>\n  --cache <mode>\n');
  process.exit(0);
}
const socket = argv[argv.indexOf('--socket-path') + 1];
if (!socket || !argv.includes('--shared-dir')) {
  process.stderr.write('fake virtiofsd: --socket-path and --shared-dir are required\n');
  process.exit(1);
}
const server = createServer((s) => s.on('error', () => {})).listen(socket);
process.once('SIGTERM', () => {
  server.close();
  rmSync(socket, { force: true });
  process.exit(0);
});
