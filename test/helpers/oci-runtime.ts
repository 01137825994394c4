import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './guest-factory.js';
import { finished, type CliResult } from './run-cli.js';

export const MAYU_RUNTIME_BIN = join(REPO_ROOT, 'node_modules/.bin/mayu-runtime');
const SUBREAPER = join(REPO_ROOT, 'test/helpers/subreaper.py');
/** An engine's end of --console-socket: see the script. */
export const CONSOLE_RECEIVER = join(REPO_ROOT, 'test/helpers/console-receiver.py');

/** mayu-runtime with --root ROOT, its mayu configuration from $MAYU_CONFIG. */
export class RuntimeCli {
  constructor(
    readonly root: string,
    readonly configFile: string,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, MAYU_CONFIG: this.configFile };
  }

  /** A command to its end, as engines call it: with a JSON --log (stderr then has the bare message, as runc's). */
  run(args: string[], input = ''): Promise<CliResult> {
    const child = spawn(MAYU_RUNTIME_BIN, ['--root', this.root, '--log', `${this.root}.log`, '--log-format', 'json', ...args], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const done = finished(child);
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    return done;
  }

  async state(id: string): Promise<{ status: string; pid: number; bundle: string; annotations: Record<string, string> }> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) throw new Error(`state ${id}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { status: string; pid: number; bundle: string; annotations: Record<string, string> };
  }

  /**
   * `create`, as an engine runs it: under a subreaper (conmon and the runc
   * shim are), with stdio of our choosing — stdin `input` then EOF, stdout and
   * stderr to files. `exited` resolves once every process it left has ended,
   * with their statuses (the holder's is the container's).
   */
  async create(id: string, bundle: string, o: { input?: string; extra?: string[]; dir: string }): Promise<Launched> {
    return this.launch(['create', '--bundle', bundle, '--pid-file', join(o.dir, `${id}.pid`), ...(o.extra ?? []), id], o.dir, id, o.input ?? '');
  }

  /** exec --detach, as conmon runs it for `podman exec`. */
  async execDetached(id: string, processFile: string, dir: string, tag: string): Promise<Launched> {
    return this.launch(['exec', '--detach', '--pid-file', join(dir, `${tag}.pid`), '--process', processFile, id], dir, tag, '');
  }

  private async launch(args: string[], dir: string, tag: string, input: string): Promise<Launched> {
    mkdirSync(dir, { recursive: true });
    const result = join(dir, `${tag}.result`);
    const out = openSync(join(dir, `${tag}.out`), 'w');
    const err = openSync(join(dir, `${tag}.err`), 'w');
    const child = spawn('python3', [SUBREAPER, result, '--', MAYU_RUNTIME_BIN, '--root', this.root, '--log', join(dir, 'runtime.log'), '--log-format', 'json', ...args], {
      env: this.env,
      stdio: ['pipe', out, err],
    });
    closeSync(out);
    closeSync(err);
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
    const helperDone = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // The command's own status is known when it exits (its holder lives on).
    while (!existsSync(`${result}.cmd`)) {
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    const code = Number(readFileSync(`${result}.cmd`, 'utf8'));
    // A failed command leaves nothing running: its subreaper ends at once, and is waited for (boundedly, so a
    // process wrongly left still shows as a leftover rather than a hang), lest the leftover check see it ending.
    if (code !== 0) await Promise.race([helperDone, sleep(10_000)]);
    const pidFile = join(dir, `${tag}.pid`);
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : null;
    return {
      code,
      pid,
      stderrOfCommand: () => readFileSync(join(dir, `${tag}.err`), 'utf8'),
      stdout: () => readFileSync(join(dir, `${tag}.out`), 'utf8'),
      stderr: () => readFileSync(join(dir, `${tag}.err`), 'utf8'),
      exited: helperDone.then(() => {
        const r = JSON.parse(readFileSync(result, 'utf8')) as { reaped: Record<string, number> };
        return pid === null ? null : (r.reaped[String(pid)] ?? null);
      }),
    };
  }
}

export interface Launched {
  /** The command's exit status. */
  code: number;
  /** The PID it wrote to --pid-file. */
  pid: number | null;
  stdout(): string;
  stderr(): string;
  stderrOfCommand(): string;
  /** The status of the process whose PID was written, once it ended (null if it was not reaped here). */
  exited: Promise<number | null>;
}

/** An OCI bundle as `runc spec` writes it (terminal off), with a copy of `rootfs`, and `args`. */
export function makeBundle(dir: string, rootfs: string, args: string[], edit: (spec: Record<string, unknown>) => void = () => {}): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('runc', ['spec', '--bundle', dir]);
  execFileSync('cp', ['-a', rootfs, join(dir, 'rootfs')]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[] } } & Record<string, unknown>;
  spec.process.terminal = false;
  spec.process.args = args;
  edit(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
