import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './guest-factory.js';

export const MAYU_BIN = join(REPO_ROOT, 'node_modules/.bin/mayu');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts the `mayu` CLI as a user would (node_modules/.bin/mayu). */
export function startMayu(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(MAYU_BIN, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Waits for a started CLI to exit, with everything it printed. */
export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })));
}

/** Runs the `mayu` CLI to its end; `input` goes to its stdin, which is then closed. */
export function runMayu(args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = startMayu(args, o.env);
  const done = finished(child);
  child.stdin?.end(o.input ?? '');
  return done;
}
