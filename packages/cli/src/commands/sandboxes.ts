import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { isMayuError, MayuError } from '@mayu/protocol';
import { listSandboxes, removeSandbox, type RuntimeConfig } from '@mayu/runtime';
import type { Logger } from 'pino';
import { reapOrphanedRuns } from '../run/reaper.js';
import { getRun, listRuns, ownerAlive, removeRun } from '../run/run-records.js';
import { UsageError } from '../usage.js';
import { configFrom, printJson } from './common.js';

interface Row {
  id: string;
  kind: 'container' | 'sandbox';
  status: string;
  image: string;
  command: string;
  created: string;
  /** Why it failed (a killed owner, a container that could not start). */
  error?: string;
}

function rows(config: RuntimeConfig, all: boolean): Row[] {
  const runs = listRuns(config.runtime.stateDir);
  const runIds = new Set(runs.map((r) => r.id));
  const fromRuns: Row[] = runs
    .map((r) => {
      const alive = r.status === 'running' && ownerAlive(r);
      const status = alive ? 'running' : r.status === 'exited' && r.exit ? `exited (${r.exit.exitStatus})` : r.status === 'running' ? 'dead' : r.status;
      return { id: r.id, kind: 'container' as const, status, image: r.image, command: r.args.join(' '), created: r.createdAt, ...(r.error ? { error: r.error } : {}) };
    })
    .filter((r) => all || r.status === 'running' || r.status === 'starting');
  // Sandboxes with no run of their own: left by mayu boot --keep.
  const fromBoots: Row[] = listSandboxes(config)
    .filter((s) => !runIds.has(s.id) && (all || s.running))
    .map((s) => ({ id: s.id, kind: 'sandbox' as const, status: s.running ? 'running' : 'stopped', image: '-', command: '(mayu boot --keep)', created: s.createdAt }));
  return [...fromRuns, ...fromBoots];
}

/**
 * mayu ps [-a] [--json]: running containers (all with -a), and sandboxes
 * kept by boot --keep. Runs whose owner was killed are cleaned up first and
 * shown as failed, with why.
 */
export async function psCommand(args: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { config: { type: 'string' }, json: { type: 'boolean', default: false }, all: { type: 'boolean', short: 'a', default: false } },
  });
  const config = configFrom(values.config);
  await reapOrphanedRuns(config, log);
  const list = rows(config, values.all ?? false);
  if (values.json) {
    printJson(list);
    return 0;
  }
  process.stdout.write(`${'ID'.padEnd(24)}${'STATUS'.padEnd(14)}${'IMAGE'.padEnd(28)}COMMAND\n`);
  for (const r of list) {
    process.stdout.write(`${r.id.padEnd(24)}${r.status.padEnd(14)}${r.image.slice(0, 26).padEnd(28)}${r.command.slice(0, 40)}\n`);
    // Why it failed (a VM that died: the guest's panic, a hung VM, QEMU killed), in full.
    if (r.error) process.stdout.write(`  why: ${r.error}\n`);
  }
  return 0;
}

/** Removes a run: a running one only with --force (its owner is told to stop, then its VM is killed if need be). */
async function removeOneRun(config: RuntimeConfig, id: string, force: boolean): Promise<void> {
  const { dir, record } = getRun(config.runtime.stateDir, id);
  if (ownerAlive(record) && record.ownerPid) {
    if (!force) throw new MayuError('ERR_INVALID_STATE', `container ${id} is running; use --force`, { details: { id } });
    process.kill(record.ownerPid, 'SIGTERM');
    for (let waited = 0; waited < 15_000 && ownerAlive(record); waited += 100) await sleep(100);
  }
  await removeSandbox(config, id, true).catch((err: unknown) => {
    if (!isMayuError(err, 'ERR_NOT_FOUND')) throw err;
  });
  removeRun(dir);
}

/** mayu rm [-f] ID...: containers (running ones need -f) and sandboxes kept by boot --keep. */
export async function rmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string' }, force: { type: 'boolean', short: 'f', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new UsageError('rm needs at least one id');
  const config = configFrom(values.config);
  for (const id of positionals) {
    const isRun = listRuns(config.runtime.stateDir).some((r) => r.id === id);
    if (isRun) await removeOneRun(config, id, values.force ?? false);
    else await removeSandbox(config, id, values.force ?? false);
  }
  return 0;
}
