import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { isMayuError } from '@mayu/protocol';
import { loadConfig, removeSandbox, tearDownRunNetwork } from '@mayu/runtime';
import type { Logger } from 'pino';
import { parseSignal } from '../../run/attach.js';
import { askHolder } from '../control.js';
import { removeMember } from '../pod.js';
import { cleanUpAfterKeeper } from '../pod-keeper.js';
import { runHooks } from '../hooks.js';
import { RuntimeCliError } from '../errors.js';
import type { GlobalOptions } from '../globals.js';
import { currentStatus, getContainer, holderAlive, listContainers, ociState, readRecord, removeContainerDir, type ContainerRecord } from '../state.js';

function oneId(args: string[], command: string): string {
  const [id, ...rest] = args;
  if (!id || rest.length > 0) throw new RuntimeCliError(`${command} needs exactly one argument: the container id`);
  return id;
}

/** mayu-runtime start ID: runs the created container's process. */
export async function startCommand(args: string[], g: GlobalOptions): Promise<number> {
  const { dir, record } = getContainer(g.root, oneId(args, 'start'));
  const status = currentStatus(record);
  if (status === 'stopped') throw new RuntimeCliError('cannot start a container that has stopped');
  if (status !== 'created') throw new RuntimeCliError(`cannot start an already running container`);
  await askHolder(dir, { op: 'start' });
  return 0;
}

/** mayu-runtime state ID: the OCI state, as JSON. */
export function stateCommand(args: string[], g: GlobalOptions): number {
  const { record } = getContainer(g.root, oneId(args, 'state'));
  process.stdout.write(`${JSON.stringify(ociState(record), null, 2)}\n`);
  return 0;
}

/** mayu-runtime kill [--all] ID [SIGNAL]: SIGNAL (default TERM) to the container's process, or to all of its processes. */
export async function killCommand(args: string[], g: GlobalOptions): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { all: { type: 'boolean', short: 'a', default: false } } });
  const [id, sigText = 'TERM', ...rest] = positionals;
  if (!id || rest.length > 0) throw new RuntimeCliError('kill needs the container id and at most one signal');
  const signal = parseSignal(sigText);
  if (signal === null) throw new RuntimeCliError(`unknown signal "${sigText}"`);
  const { dir, record } = getContainer(g.root, id);
  // runc: kill --all of a stopped container is no error (containerd sends it after an exit).
  const notRunning = (): number => {
    if (values.all) return 0;
    throw new RuntimeCliError('container not running');
  };
  if (currentStatus(record) === 'stopped') return notRunning();
  try {
    await askHolder(dir, { op: 'kill', signal, all: values.all });
  } catch (err) {
    // The holder went (or the container stopped) between the check and the call.
    const message = (err as Error).message;
    if (!holderAlive(record) || /cannot reach the container's holder/.test(message) || message === 'container not running') return notRunning();
    throw err;
  }
  return 0;
}

export async function pauseCommand(args: string[], g: GlobalOptions, op: 'pause' | 'resume'): Promise<number> {
  const { dir, record } = getContainer(g.root, oneId(args, op));
  const status = currentStatus(record);
  if (op === 'pause' && status !== 'running') throw new RuntimeCliError(`container not running: ${status}`);
  if (op === 'resume' && status !== 'paused') throw new RuntimeCliError('container not paused');
  await askHolder(dir, { op });
  return 0;
}

/** How long delete waits for a destroyed container's holder to remove its VM and go. */
const HOLDER_EXIT_TIMEOUT_MS = 30_000;

export async function waitHolderGone(r: ContainerRecord, log: Logger): Promise<void> {
  const deadline = Date.now() + HOLDER_EXIT_TIMEOUT_MS;
  while (holderAlive(r) && Date.now() < deadline) await sleep(50);
  if (!holderAlive(r)) return;
  log.warn({ pid: r.pid }, 'the holder did not end after destroy: killing it');
  try {
    process.kill(r.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  const killDeadline = Date.now() + 5000;
  while (holderAlive(r) && Date.now() < killDeadline) await sleep(20);
}

/** Kills what runs in the container (its holder then removes the VM) and waits for the holder to end. */
export async function destroyContainer(dir: string, log: Logger): Promise<void> {
  const r = readRecord(dir);
  if (!r) return;
  if (r.status === 'creating') {
    // No control socket yet: a signal makes a booting holder abandon the VM.
    try {
      process.kill(r.pid, 'SIGTERM');
    } catch {
      // gone
    }
  } else {
    await askHolder(dir, { op: 'destroy' }).catch((err: Error) => log.warn({ err }, 'destroy'));
  }
  await waitHolderGone(r, log);
}

/** What a holder that died without finishing (SIGKILL) left: its sandbox's mounts and state, its network. */
export async function cleanUpAfterHolder(r: ContainerRecord, log: Logger): Promise<void> {
  if (r.pod) {
    // A pod's container: the VM is its pod's, which removes the container from it.
    await removeMember(r.pod.dir, r.id);
    log.info({ id: r.id }, "cleaned up after a holder that did not finish: removed from its pod's VM");
    return;
  }
  try {
    await removeSandbox(loadConfig(r.configPath ?? undefined), r.sandboxId, true);
  } catch (err) {
    if (!isMayuError(err, 'ERR_NOT_FOUND')) throw new RuntimeCliError(`cannot remove the container's VM: ${(err as Error).message}`, { cause: err });
  }
  await tearDownRunNetwork(r.network);
  log.info({ id: r.id }, 'cleaned up after a holder that did not finish');
}

/** mayu-runtime delete [--force] ID: removes a stopped (or created) container; --force kills a running one first. */
export async function deleteCommand(args: string[], g: GlobalOptions, log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { force: { type: 'boolean', short: 'f', default: false } } });
  const id = oneId(positionals, 'delete');
  let found: ReturnType<typeof getContainer>;
  try {
    found = getContainer(g.root, id);
  } catch (err) {
    // runc: delete --force of what does not exist succeeds.
    if (values.force && err instanceof RuntimeCliError && err.message === 'container does not exist') return 0;
    throw err;
  }
  const { dir, record } = found;
  const status = currentStatus(record);
  if ((status === 'running' || status === 'paused') && !values.force) throw new RuntimeCliError(`cannot delete container ${id} that is not stopped: ${status}`);
  if (status !== 'stopped') await destroyContainer(dir, log);
  // Stopped, its holder may still be taking the VM down: it is waited for.
  else if (holderAlive(record)) await waitHolderGone(record, log);
  // A holder that finished recorded 'stopped' and cleared sandboxDir after removing its VM; any other end left things behind.
  const last = getContainer(g.root, id).record;
  if (last.status !== 'stopped' || last.sandboxDir !== null) await cleanUpAfterHolder(last, log);
  // A pod's keeper that was killed leaves its VM's state to its containers' deletes.
  if (last.pod) await cleanUpAfterKeeper(g.root, last.pod.sandboxId, log);
  if (removeContainerDir(g.root, id)) {
    // The spec: a failing poststop hook is a warning; the container is gone either way.
    await runHooks(last.hooks, 'poststop', { ...ociState(last), status: 'stopped', pid: 0 }, (err) => log.warn({ err }, 'poststop hook failed'));
  }
  return 0;
}

/** mayu-runtime list [--format table|json] [-q]. */
export function listCommand(args: string[], g: GlobalOptions): number {
  const { values } = parseArgs({ args, strict: true, options: { format: { type: 'string', short: 'f', default: 'table' }, quiet: { type: 'boolean', short: 'q', default: false } } });
  const records = listContainers(g.root);
  if (values.quiet) {
    process.stdout.write(records.map((r) => `${r.id}\n`).join(''));
  } else if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify(records.map(ociState))}\n`);
  } else if (values.format === 'table') {
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...records.map((r) => [r.id, String(ociState(r).pid), currentStatus(r), r.bundle, r.created, 'root'])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    process.stdout.write(
      rows
        .map(
          (row) =>
            `${row
              .map((c, i) => c.padEnd(widths[i] + 3))
              .join('')
              .trimEnd()}\n`,
        )
        .join(''),
    );
  } else {
    throw new RuntimeCliError(`invalid format option: ${values.format}`);
  }
  return 0;
}
