import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { MayuError } from '@mayu/protocol';
import { AgentClient, DEFAULT_CAPABILITIES, mergeEnv, pumpInput, pumpOutput, resolveUser, type RuntimeConfig, writableSink } from '@mayu/runtime';
import { DEFAULT_TTY, terminalSize, forwardResize, forwardSignals, parseSignal } from '../run/attach.js';
import { attachAgentBridge } from '../run/agent-bridge.js';
import { getRun, ownerAlive, type RunRecord } from '../run/run-records.js';
import { UsageError } from '../usage.js';
import { parseEnv } from './run.js';
import { configFrom } from './common.js';

/** A client of a running container's agent, through its owner's bridge socket. */
function agentOf(config: RuntimeConfig, id: string): { agent: AgentClient; record: RunRecord } {
  const { record } = getRun(config.runtime.stateDir, id);
  if (record.status !== 'running' || !record.sandboxDir || !ownerAlive(record)) {
    throw new MayuError('ERR_INVALID_STATE', `container ${id} is not running (${record.status})`, { details: { id, status: record.status } });
  }
  return { agent: attachAgentBridge(record.sandboxDir, config), record };
}

/** mayu exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] ID -- CMD: a new process in a running container. */
export async function execCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      interactive: { type: 'boolean', short: 'i', default: false },
      tty: { type: 'boolean', short: 't', default: false },
      env: { type: 'string', short: 'e', multiple: true, default: [] },
      workdir: { type: 'string', short: 'w' },
      user: { type: 'string', short: 'u' },
      config: { type: 'string' },
    },
  });
  const [id, ...cmd] = positionals;
  if (!id || cmd.length === 0) throw new UsageError('exec needs a container id and a command: mayu exec ID -- CMD...');
  const config = configFrom(values.config);
  const { agent, record } = agentOf(config, id);
  const ref = { containerId: id, execId: `exec-${randomBytes(4).toString('hex')}` };
  const base = record.process ?? { env: [], cwd: '/', user: { uid: 0, gid: 0 } };
  const rootfsUser = values.user ? resolveUser(values.user, record.rootfs ?? '/nonexistent') : base.user;
  const undo: (() => void)[] = [];
  try {
    await agent.execProcess({
      ...ref,
      process: {
        args: cmd,
        env: mergeEnv(base.env, values.env.map(parseEnv), values.tty ? ['TERM=xterm'] : []),
        cwd: values.workdir ?? base.cwd,
        user: rootfsUser,
        terminal: values.tty,
        ...(values.tty ? { consoleSize: terminalSize() } : {}),
        capabilities: { bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES },
        noNewPrivileges: true,
      },
      stdio: { terminal: values.tty, stdin: values.interactive },
    });
    const out = pumpOutput(agent, ref, 'stdout', [writableSink(process.stdout)]);
    const err = pumpOutput(agent, ref, 'stderr', [writableSink(process.stderr)]);
    if (values.tty && process.stdout.isTTY) undo.push(forwardResize(agent, ref, process.stdout));
    else if (values.tty) await agent.resizeTty(ref, DEFAULT_TTY.rows, DEFAULT_TTY.columns);
    if (values.tty && process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      undo.push(() => process.stdin.setRawMode(false));
    } else {
      undo.push(forwardSignals(agent, ref));
    }
    if (values.interactive) {
      void pumpInput(agent, ref, process.stdin);
      undo.push(() => process.stdin.pause());
    }
    const exit = await agent.waitProcess(ref);
    await Promise.all([out, err]);
    return exit.exitStatus;
  } finally {
    for (const u of undo.reverse()) u();
    agent.close();
  }
}

/** mayu kill ID [SIGNAL]: signal the container's init process (default KILL). */
export async function killCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: 'string' } } });
  const [id, sigText = 'KILL'] = positionals;
  if (!id) throw new UsageError('kill needs a container id');
  const signal = parseSignal(sigText);
  if (signal === null) throw new UsageError(`unknown signal ${JSON.stringify(sigText)}`);
  const { agent } = agentOf(configFrom(values.config), id);
  try {
    await agent.signalProcess({ containerId: id, execId: '' }, signal);
  } finally {
    agent.close();
  }
  return 0;
}

/** mayu logs ID: what the container wrote, stdout to stdout and stderr to stderr. */
export async function logsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: 'string' } } });
  const [id] = positionals;
  if (!id) throw new UsageError('logs needs a container id');
  const { dir } = getRun(configFrom(values.config).runtime.stateDir, id);
  for (const [file, out] of [
    ['stdout.log', process.stdout],
    ['stderr.log', process.stderr],
  ] as const) {
    if (existsSync(join(dir, file))) await pipeline(createReadStream(join(dir, file)), out, { end: false });
  }
  return 0;
}
