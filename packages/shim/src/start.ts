import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { annotationsOf, groupIdOf, serverAnswers, socketPath } from './address.js';
import { configPathFromOptions } from './runtime-options.js';
import { serveArgs, type ShimFlags } from './flags.js';

/** The fd on which the server tells `start` that it listens. */
const READY_FD = 3;

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * What `start` prints: the plain address (every containerd reads it, and
 * then speaks containerd.task.v2.Task), or — when containerd says it takes
 * version 3 (MAX_SHIM_VERSION, 2 from containerd 1.7 through 2.1) — the
 * JSON bootstrap answer naming version 3, which switches it to
 * containerd.task.v3.Task. The server answers both.
 */
export function startAnswer(address: string, maxShimVersion: string | undefined): string {
  return Number(maxShimVersion) >= 3 ? JSON.stringify({ version: 3, address, protocol: 'ttrpc' }) : address;
}

/**
 * `start`: prints the address of the shim serving this task's group, and
 * exits. A CRI container reuses its pod's shim; otherwise a detached server
 * is started (it holds none of containerd's pipes) and the address printed
 * once it listens. Nothing else goes to stdout or stderr: containerd reads
 * both together as the address.
 */
export async function start(f: ShimFlags): Promise<number> {
  const bundle = process.cwd();
  const groupId = groupIdOf(f.id, annotationsOf(bundle));
  const path = socketPath(f.address, f.namespace, groupId);
  const address = `unix://${path}`;
  const options = await readStdin();
  if (!(await serverAnswers(path))) {
    // The server makes the socket's directory (0700) and the socket (0600).
    // The server loads the configuration; a bad one comes back as its report.
    const configPath = configPathFromOptions(options, { id: f.id, namespace: f.namespace });
    const server = spawn(process.execPath, [process.argv[1] ?? '', ...serveArgs(f, groupId)], {
      cwd: bundle,
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { ...process.env, MAYU_SHIM_SOCKET: path, ...(configPath ? { MAYU_CONFIG: configPath } : {}) },
    });
    const ready = await new Promise<string>((resolve) => {
      let text = '';
      const pipe = server.stdio[READY_FD] as NodeJS.ReadableStream;
      pipe.on('data', (c: Buffer) => (text += c.toString()));
      pipe.on('end', () => resolve(text.trim()));
      server.once('exit', () => resolve(text.trim()));
    });
    server.unref();
    if (ready !== 'ready') {
      process.stderr.write(`mayu shim failed to start: ${ready.replace(/^error: /, '') || 'it exited without a report'}\n`);
      return 1;
    }
  }
  writeFileSync('address', address);
  process.stdout.write(startAnswer(address, process.env.MAX_SHIM_VERSION));
  return 0;
}
