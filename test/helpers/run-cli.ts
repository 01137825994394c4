import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './guest-factory.js';

export const MAYU_BIN = join(REPO_ROOT, 'node_modules/.bin/mayu');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `mayu` CLI as a user would (node_modules/.bin/mayu). */
export function runMayu(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(MAYU_BIN, args, { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
