import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentClient, loadConfig, mergeEnv } from '@mayu/runtime';
import type { Logger } from 'pino';
import { attachAgentBridge } from '../../run/agent-bridge.js';
import { forwardSignals } from '../../run/attach.js';
import { RuntimeCliError } from '../errors.js';
import type { GlobalOptions } from '../globals.js';
import { awaitReport, sendReport } from '../report.js';
import { ProcessStdio } from '../stdio.js';
import { currentStatus, getContainer, noteExecHolder, type ContainerRecord } from '../state.js';
import { writePidFile } from './create.js';

/** The container's agent, through its sandbox's bridge socket. */
export function agentOf(record: ContainerRecord): AgentClient {
  const status = currentStatus(record);
  if ((status !== 'running' && status !== 'paused' && status !== 'created') || !record.sandboxDir) throw new RuntimeCliError(`container ${record.id} is not running`);
  return attachAgentBridge(record.sandboxDir, loadConfig(record.configPath ?? undefined));
}

/** runc's -u: UID[:GID], numbers (names are not looked up, as runc does not). */
function parseUser(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new RuntimeCliError(`invalid --user ${JSON.stringify(text)}: must be UID[:GID]`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

type ExecValues = ReturnType<typeof parseExecArgs>['values'];

const EXEC_OPTIONS = {
  process: { type: 'string', short: 'p' },
  detach: { type: 'boolean', short: 'd', default: false },
  'pid-file': { type: 'string' },
  'console-socket': { type: 'string' },
  tty: { type: 'boolean', short: 't', default: false },
  cwd: { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true, default: [] },
  user: { type: 'string', short: 'u' },
  'no-new-privs': { type: 'boolean', default: false },
  'preserve-fds': { type: 'string', default: '0' },
} satisfies ParseArgsConfig['options'];

/**
 * `exec [FLAGS] ID [CMD ARGS…]`: as runc's flag parsing does, flags end at the
 * first argument that is not one (or at `--`), so the command keeps its own
 * (`exec ID sh -c 'echo hi'`).
 */
export function parseExecArgs(args: string[]) {
  const valued = new Set<string>();
  for (const [name, o] of Object.entries(EXEC_OPTIONS)) {
    if (o.type !== 'string') continue;
    valued.add(`--${name}`);
    if ('short' in o) valued.add(`-${o.short}`);
  }
  let i = 0;
  while (i < args.length) {
    const arg = args[i];
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') break;
    i += valued.has(arg) ? 2 : 1;
  }
  const rest = args[i] === '--' ? args.slice(i + 1) : args.slice(i);
  const { values } = parseArgs({ args: args.slice(0, Math.min(i, args.length)), allowPositionals: false, strict: true, options: EXEC_OPTIONS });
  return { values, positionals: rest };
}

/** The exec's OCI process: the file's, or the container's own with CMD and the flags put on it. */
function execProcess(record: ContainerRecord, values: ExecValues, cmd: string[]): Record<string, unknown> {
  if (values.process) {
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(readFileSync(values.process, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new RuntimeCliError(`cannot read the process file ${values.process}: ${(err as Error).message}`);
    }
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new RuntimeCliError(`the process file ${values.process}: must be a JSON object`);
    // --tty as well as the file's terminal (engines pass both).
    return values.tty ? { ...p, terminal: true } : p;
  }
  if (cmd.length === 0) throw new RuntimeCliError('exec needs a command (or --process FILE)');
  const base = record.process;
  return {
    ...base,
    args: cmd,
    env: mergeEnv((base.env as string[] | undefined) ?? [], values.env),
    cwd: values.cwd ?? base.cwd ?? '/',
    ...(values.user ? { user: parseUser(values.user) } : {}),
    terminal: values.tty,
    ...(values['no-new-privs'] ? { noNewPrivileges: true } : {}),
  };
}

/**
 * Runs an exec to its end in this process: its stdio are ours (or a pty whose
 * master went to `consoleSocket`), the signals we get reach it, and the
 * status is its own. `onStarted` is told once it runs.
 */
async function runExec(
  record: ContainerRecord,
  process_: Record<string, unknown>,
  o: { consoleSocket?: string; controlling: boolean; log: Logger; onStarted: (execId: string) => void },
): Promise<number> {
  const agent = agentOf(record);
  const ref = { containerId: record.id, execId: `exec-${randomBytes(6).toString('hex')}` };
  const terminal = process_.terminal === true;
  let undoSignals = (): void => {};
  let stdio: ProcessStdio | null = null;
  try {
    await agent.execProcess({ ...ref, process: process_, stdio: { terminal, stdin: true } });
    const consoleSize = process_.consoleSize as { height?: number; width?: number } | undefined;
    try {
      stdio = await ProcessStdio.open({ agent, ref, log: o.log, consoleSocket: terminal ? o.consoleSocket : undefined, consoleSize, controlling: o.controlling });
    } catch (err) {
      // Nobody could see or wait for it: it does not run on.
      await agent.signalProcess(ref, 9).catch(() => {});
      throw err;
    }
    undoSignals = forwardSignals(agent, ref, ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']);
    o.onStarted(ref.execId);
    stdio.startInput();
    const exit = await agent.waitProcess(ref);
    await stdio.drained();
    return exit.exitStatus;
  } finally {
    undoSignals();
    stdio?.close();
    process.stdin.pause();
    agent.close();
  }
}

/**
 * mayu-runtime exec [--process FILE | flags… ID CMD…] [--detach --pid-file
 * FILE] ID: a new process in the container. Detached, a holder of its own
 * keeps its stdio and ends with its status; its PID is written.
 */
export async function execCommand(args: string[], g: GlobalOptions, log: Logger): Promise<number> {
  const { values, positionals } = parseExecArgs(args);
  const [id, ...cmd] = positionals;
  if (!id) throw new RuntimeCliError('exec needs the container id');
  if (values['preserve-fds'] !== '0') throw new RuntimeCliError(`--preserve-fds ${values['preserve-fds']}: descriptors cannot be passed into a VM`);
  const { dir, record } = getContainer(g.root, id);
  const proc = execProcess(record, values, cmd);
  const consoleSocket = values['console-socket'] ? resolve(values['console-socket']) : undefined;
  if (proc.terminal === true && values.detach && !consoleSocket) throw new RuntimeCliError('cannot allocate tty if runc will detach without setting console socket');
  if (proc.terminal !== true && consoleSocket) throw new RuntimeCliError('cannot use console socket if runc will not detach or allocate tty');
  // runc's words; a created container takes execs, as with runc.
  const status = currentStatus(record);
  if (status === 'stopped' || status === 'paused') throw new RuntimeCliError(`cannot exec in a ${status} state`);
  if (status === 'creating') throw new RuntimeCliError(`container ${id} is still being created`);
  if (!values.detach) {
    return runExec(record, proc, { consoleSocket, controlling: false, log, onStarted: () => values['pid-file'] && writePidFile(values['pid-file'], process.pid) });
  }
  const file = join(dir, `exec-${randomBytes(6).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ process: proc, consoleSocket }), { mode: 0o600 });
  // With a terminal, the pty carries its stdio: the exec holder keeps none of ours (an engine may wait for their EOF).
  const stdio = consoleSocket ? 'ignore' : 'inherit';
  const holder = spawn(process.execPath, [process.argv[1] ?? '', ...globalArgs(g), '_exec', id, file], {
    detached: true,
    cwd: '/',
    stdio: [stdio, stdio, stdio, 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  const report = await awaitReport(holder, 'the exec holder ended without a word');
  holder.unref();
  if (!report.ok) throw new RuntimeCliError(report.error ?? 'the exec did not start');
  if (values['pid-file'] && holder.pid !== undefined) writePidFile(values['pid-file'], holder.pid);
  return 0;
}

/** The global flags again, for a holder started by this command. */
function globalArgs(g: GlobalOptions): string[] {
  return ['--root', g.root, ...(g.configPath ? ['--config', g.configPath] : []), ...(g.log.file ? ['--log', g.log.file] : []), '--log-format', g.log.format, ...(g.log.debug ? ['--debug'] : [])];
}

/** `mayu-runtime _exec ID FILE`: a detached exec's holder; it reports on fd 3 once the exec runs. */
export async function execHolderCommand(args: string[], g: GlobalOptions, log: Logger): Promise<number> {
  const [id, file] = args;
  if (!id || !file) throw new RuntimeCliError('_exec needs the container id and the process file');
  try {
    const { dir, record } = getContainer(g.root, id);
    const { process: proc, consoleSocket } = JSON.parse(readFileSync(file, 'utf8')) as { process: Record<string, unknown>; consoleSocket?: string };
    rmSync(file, { force: true });
    let unnote = (): void => {};
    try {
      // Started detached, it leads its own session: the terminal can be its controlling one.
      return await runExec(record, proc, {
        consoleSocket,
        controlling: true,
        log,
        onStarted: (execId) => {
          unnote = noteExecHolder(dir, execId);
          sendReport({ ok: true });
        },
      });
    } finally {
      unnote();
    }
  } catch (err) {
    sendReport({ error: (err as Error).message });
    throw err;
  }
}
