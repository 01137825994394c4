import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MayuError } from '@mayu/protocol';

/** Where the OCI runtime keeps its state inside the guest. */
export const CRUN_ROOT = '/run/mayu/crun';

export interface CrunResult {
  code: number;
  /** What crun said about the failure (its log, else its stderr). */
  message: string;
}

/**
 * The OCI runtime inside the guest (crun), driven the way containerd drives
 * runc: `create` and `exec --detach` return once the process exists, so the
 * process is orphaned to mayu-init, which reports its exit status.
 */
export class Crun {
  constructor(
    private readonly bin = 'crun',
    private readonly root = CRUN_ROOT,
  ) {}

  /**
   * Runs crun with `stdio` and waits for it. The child is returned too: with
   * stdio pipes, the container process holds the other ends after crun has
   * exited, and the caller keeps using them.
   */
  run(args: string[], opts: { stdio?: StdioOptions; logFile?: string } = {}): Promise<CrunResult & { child: ChildProcess }> {
    const logArgs = opts.logFile ? [`--log=${opts.logFile}`, '--log-format=json'] : [];
    const child = spawn(this.bin, ['--root', this.root, ...logArgs, ...args], { stdio: opts.stdio ?? ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const capture = opts.stdio === undefined;
    if (capture) child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4096)));
    return new Promise((resolve, reject) => {
      child.once('error', (err) => reject(new MayuError('ERR_INTERNAL', `cannot run ${this.bin}: ${err.message}`, { cause: err })));
      child.once('exit', (code, signal) => {
        const message = (opts.logFile ? lastLogMessage(opts.logFile) : '') || stderr.trim() || (signal ? `killed by ${signal}` : '');
        resolve({ code: code ?? 128, message, child });
      });
    });
  }

  /** Starts crun without waiting for it (an exec in the foreground: crun lives as long as the process). */
  spawn(args: string[], opts: { stdio: StdioOptions; logFile: string }): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
    const child = spawn(this.bin, ['--root', this.root, `--log=${opts.logFile}`, '--log-format=json', ...args], { stdio: opts.stdio });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: 255, signal: null }));
    });
    return { child, exited };
  }

  /** Runs a command that must succeed; its failure is an ERR_INTERNAL naming the command. */
  async must(args: string[], what: string): Promise<void> {
    const r = await this.run(args);
    if (r.code !== 0) throw new MayuError('ERR_INTERNAL', `${what}: crun ${args[0]} failed: ${r.message}`);
  }
}

/** The last message in crun's JSON log (`{"level":"error","msg":...}` lines). */
export function lastLogMessage(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trim().split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const msg = (JSON.parse(lines[i]) as { msg?: string }).msg;
      if (msg) return msg.trim();
    } catch {
      return lines[i].trim();
    }
  }
  return '';
}
