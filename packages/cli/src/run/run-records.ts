import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MayuError, type ExitStatus } from '@mayu/protocol';
import { processStartTime, removeDirSafely, validateSandboxId, type RunNetworkRecord } from '@mayu/runtime';

export type RunStatus = 'starting' | 'running' | 'exited' | 'failed';

/** What `mayu run` records about a container: <state_dir>/runs/<id>/run.json, beside its logs. */
export interface RunRecord {
  id: string;
  image: string;
  args: string[];
  createdAt: string;
  detached: boolean;
  status: RunStatus;
  exit: ExitStatus | null;
  error: string | null;
  /** The process that owns the sandbox (the attached CLI or the monitor), and its start time. */
  ownerPid: number | null;
  ownerStart?: number | null;
  /** The sandbox's state directory (its agent bridge socket is there). */
  sandboxDir: string | null;
  /** The container's process settings, the defaults for exec. */
  process: { env: string[]; cwd: string; user: { uid: number; gid: number } } | null;
  /** The container's root filesystem on the host (user names for exec are looked up in it). */
  rootfs: string | null;
  /** What its --network made (a namespace, a CNI attachment): undone with it, or by the reaper after a crash. */
  network?: RunNetworkRecord | null;
}

export function runsRoot(stateDir: string): string {
  return join(stateDir, 'runs');
}

export function runDir(stateDir: string, id: string): string {
  return join(runsRoot(stateDir), id);
}

export function readRun(dir: string): RunRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return null;
  }
}

export function writeRun(dir: string, record: RunRecord): void {
  writeFileSync(join(dir, 'run.json.tmp'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(join(dir, 'run.json.tmp'), join(dir, 'run.json'));
}

export function updateRun(dir: string, change: Partial<RunRecord>): RunRecord {
  const current = readRun(dir);
  if (!current) throw new MayuError('ERR_NOT_FOUND', `no run record in ${dir}`);
  const next = { ...current, ...change };
  if ('ownerPid' in change) next.ownerStart = change.ownerPid ? processStartTime(change.ownerPid) : null;
  writeRun(dir, next);
  return next;
}

/** Creates the record of a new run; an id in use is ERR_ALREADY_EXISTS. */
export function createRun(stateDir: string, record: RunRecord): string {
  validateSandboxId(record.id);
  record.ownerStart = record.ownerPid ? processStartTime(record.ownerPid) : null;
  mkdirSync(runsRoot(stateDir), { recursive: true, mode: 0o711 });
  const dir = runDir(stateDir, record.id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MayuError('ERR_ALREADY_EXISTS', `a container named ${record.id} already exists (mayu rm ${record.id})`);
    throw err;
  }
  writeRun(dir, record);
  return dir;
}

/** Whether the run's owner process still runs (the same process: PID and start time). */
export function ownerAlive(record: RunRecord): boolean {
  if (!record.ownerPid) return false;
  const start = processStartTime(record.ownerPid);
  return start !== null && start === record.ownerStart;
}

export function listRuns(stateDir: string): RunRecord[] {
  let ids: string[];
  try {
    ids = readdirSync(runsRoot(stateDir));
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    const r = readRun(runDir(stateDir, id));
    return r ? [r] : [];
  });
}

/** The record of a run, or ERR_NOT_FOUND naming the id. */
export function getRun(stateDir: string, id: string): { dir: string; record: RunRecord } {
  validateSandboxId(id);
  const dir = runDir(stateDir, id);
  const record = readRun(dir);
  if (!record) throw new MayuError('ERR_NOT_FOUND', `no container ${id}`, { details: { id } });
  return { dir, record };
}

export function removeRun(dir: string): void {
  removeDirSafely(dir);
}
