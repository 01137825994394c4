import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitStatus } from '@mayu/protocol';
import { processStartTime, removeDirSafely, SANDBOX_ID_PATTERN, type RunNetworkRecord } from '@mayu/runtime';
import { RuntimeCliError } from './errors.js';
import type { Hook, HostHookPhase } from './hooks.js';

/** The OCI runtime-spec's states, plus runc's `paused`. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The pod a member container joins: its sandbox container's state directory and that container's VM. */
export interface PodRef {
  sandboxId: string;
  dir: string;
  sandboxDir: string;
}

/**
 * What mayu-runtime keeps about a container: ROOT/ID/state.json. The holder
 * (the host process that stands for the container: its PID is the one the
 * engine waits on) writes it; the other commands read it.
 */
export interface ContainerRecord {
  id: string;
  /** Not a container: the keeper of a pod that has no sandbox container (pod-keeper.ts), under the pod's id. */
  keeper?: boolean;
  bundle: string;
  rootfs: string;
  annotations: Record<string, string>;
  created: string;
  status: ContainerStatus;
  /** The holder: its PID and start time (a reused PID is not it). */
  pid: number;
  pidStart: number | null;
  /** The sandbox that runs it, and that sandbox's state directory (its agent bridge socket). */
  sandboxId: string;
  sandboxDir: string | null;
  /** A pod's container: the pod's sandbox container, whose VM it runs in (null: a VM of its own). */
  pod: PodRef | null;
  /** The runtime configuration the holder was started with (the other commands use it too). */
  configPath: string | null;
  network: RunNetworkRecord | null;
  exit: ExitStatus | null;
  /** The hooks mayu-runtime runs on the host (poststop at delete). */
  hooks: Partial<Record<HostHookPhase, Hook[]>>;
  /** The spec's process: `exec ID CMD` starts from it (exec --process brings a whole one). */
  process: Record<string, unknown>;
}

export const DEFAULT_ROOT = '/run/mayu-runtime';

export function containerDir(root: string, id: string): string {
  return join(root, id);
}

/** runc's own words for an id it cannot take. */
export function validateContainerId(id: string): void {
  if (!SANDBOX_ID_PATTERN.test(id)) throw new RuntimeCliError(`invalid id format: ${id}`);
}

export function readRecord(dir: string): ContainerRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ContainerRecord;
  } catch {
    return null;
  }
}

export function writeRecord(dir: string, record: ContainerRecord): void {
  writeFileSync(join(dir, 'state.json.tmp'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

export function updateRecord(dir: string, change: Partial<ContainerRecord>): ContainerRecord {
  const current = readRecord(dir);
  if (!current) throw new RuntimeCliError(`container state in ${dir} is gone`);
  const next = { ...current, ...change };
  writeRecord(dir, next);
  return next;
}

/** Claims ROOT/ID for a new container (mkdir is atomic: of two creates with one id, one wins). */
export function claimContainerDir(root: string, id: string): string {
  validateContainerId(id);
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const dir = containerDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeCliError(`container with id exists: ${id}`);
    throw err;
  }
  return dir;
}

/** Whether the holder still runs (the same process: PID and start time). */
export function holderAlive(r: ContainerRecord): boolean {
  const start = processStartTime(r.pid);
  return start !== null && start === r.pidStart;
}

/** Where a container's detached exec holders are noted: DIR/exec-holders/PID. */
const EXEC_HOLDERS = 'exec-holders';

function execHolderNoteFile(dir: string, pid: number | string): string {
  return join(dir, EXEC_HOLDERS, String(pid));
}

/** A detached exec's holder, as noted in DIR/exec-holders/PID. */
export interface ExecHolderNote {
  pid: number;
  /** The exec in the guest it stands for. */
  execId: string;
  /** Whether that holder still runs (the same process: PID and start time as noted). */
  alive: boolean;
}

/**
 * Notes this process as the holder of exec `execId` of the container in
 * `dir` (DIR/exec-holders/PID: its start time and the exec id), so that `ps`
 * lists it, and so that the container's holder can end the exec in the
 * guest if this process is killed without a word (SIGKILL). The returned
 * function takes the note back.
 */
export function noteExecHolder(dir: string, execId: string): () => void {
  mkdirSync(join(dir, EXEC_HOLDERS), { recursive: true, mode: 0o700 });
  writeFileSync(execHolderNoteFile(dir, process.pid), JSON.stringify({ start: processStartTime(process.pid), execId }));
  return () => dropExecHolderNote(dir, process.pid);
}

/** The notes of the container in `dir`'s detached exec holders, by PID. */
export function execHolderNotes(dir: string): ExecHolderNote[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, EXEC_HOLDERS));
  } catch {
    return [];
  }
  return names
    .flatMap((name) => {
      if (!/^\d+$/.test(name)) return [];
      const pid = Number(name);
      let noted: { start?: unknown; execId?: unknown };
      try {
        noted = JSON.parse(readFileSync(execHolderNoteFile(dir, name), 'utf8')) as typeof noted;
      } catch {
        return [];
      }
      if (typeof noted.execId !== 'string') return [];
      const start = processStartTime(pid);
      return [{ pid, execId: noted.execId, alive: start !== null && start === noted.start }];
    })
    .sort((a, b) => a.pid - b.pid);
}

/** Removes the note of exec holder `pid`. */
export function dropExecHolderNote(dir: string, pid: number): void {
  rmSync(execHolderNoteFile(dir, pid), { force: true });
}

/** The detached exec holders of the container in `dir` that still run. */
export function liveExecHolders(dir: string): number[] {
  return execHolderNotes(dir)
    .filter((n) => n.alive)
    .map((n) => n.pid);
}

/** The status to report: a holder that is gone means the container is stopped, whatever was last written. */
export function currentStatus(r: ContainerRecord): ContainerStatus {
  if (r.status === 'stopped' || !holderAlive(r)) return 'stopped';
  return r.status;
}

/** The record of ID, or runc's "container does not exist". */
export function getContainer(root: string, id: string): { dir: string; record: ContainerRecord } {
  validateContainerId(id);
  const dir = containerDir(root, id);
  const record = readRecord(dir);
  if (!record) throw new RuntimeCliError('container does not exist');
  return { dir, record };
}

export function listContainers(root: string): ContainerRecord[] {
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    const r = SANDBOX_ID_PATTERN.test(id) ? readRecord(containerDir(root, id)) : null;
    return r && !r.keeper ? [r] : [];
  });
}

/**
 * Removes ROOT/ID. It is first renamed aside (atomic), so that of two
 * concurrent deletes only one removes it and the other finds nothing.
 */
export function removeContainerDir(root: string, id: string): boolean {
  const aside = join(root, `.deleting-${id}-${process.pid}`);
  try {
    renameSync(containerDir(root, id), aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  removeDirSafely(aside);
  return true;
}

/** The OCI state as `runc state` prints it. */
export function ociState(r: ContainerRecord): Record<string, unknown> {
  const status = currentStatus(r);
  return {
    ociVersion: '1.0.2',
    id: r.id,
    pid: status === 'stopped' ? 0 : r.pid,
    status,
    bundle: r.bundle,
    rootfs: r.rootfs,
    created: r.created,
    annotations: r.annotations,
    owner: '',
  };
}
