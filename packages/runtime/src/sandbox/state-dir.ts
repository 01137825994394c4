import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { invalidArgument, MayuError } from '@mayu/protocol';
import { removeDirSafely } from '../storage/host-mounts.js';
import type { PodNetworkRecord } from '../network/pod-network.js';
import { processCmdline } from '../util/process.js';

/** Sandbox ids: what containerd and Kubernetes use, and safe as a file name. */
export const SANDBOX_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The longest file name a sandbox keeps a socket under (sun_path is 108 bytes). */
const LONGEST_SOCKET_NAME = 'agent-grpc.sock';
const SUN_PATH_MAX = 107;

export function validateSandboxId(id: string): void {
  if (!SANDBOX_ID_PATTERN.test(id)) {
    throw invalidArgument('sandbox id', id, 'must be 1-64 characters of letters, digits, "_", "." or "-", not starting with a symbol');
  }
}

/** What a sandbox records about itself, so another process can find and remove it. */
export interface SandboxRecord {
  id: string;
  stateDir: string;
  hypervisor: string;
  pid: number | null;
  createdAt: string;
  agentEndpoint: string;
  /** The VM's memory size (MiB), for host memory admission. */
  memoryMib?: number;
  /** The pod network wired to the VM (taps in the pod's namespace), to undo after a crash. */
  network?: PodNetworkRecord;
}

/**
 * A sandbox's state directory: named by its id, or, when socket paths under
 * that name would not fit in sun_path (containerd's ids are 64 characters),
 * by the id's first 16 characters and a hash of the whole id. state.json
 * inside records the full id either way.
 */
export function sandboxDir(stateRoot: string, id: string): string {
  const plain = join(stateRoot, 'sandboxes', id);
  if (join(plain, LONGEST_SOCKET_NAME).length <= SUN_PATH_MAX) return plain;
  return join(stateRoot, 'sandboxes', `${id.slice(0, 16)}-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`);
}

/** Whether the process in a record is still the sandbox's hypervisor (not a reused PID). */
export function recordProcessAlive(record: SandboxRecord): boolean {
  if (!record.pid) return false;
  const cmdline = processCmdline(record.pid);
  return cmdline !== null && cmdline.some((arg) => arg.includes(record.stateDir));
}

export function readRecord(dir: string): SandboxRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SandboxRecord;
  } catch {
    return null;
  }
}

/**
 * Writes state.json whole or not at all (a temporary file renamed over it).
 * A host that cannot take it (a full disk) is an error naming the file; the
 * old record stays as it was.
 */
export function writeRecord(record: SandboxRecord): void {
  const tmp = join(record.stateDir, 'state.json.tmp');
  try {
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, join(record.stateDir, 'state.json'));
  } catch (err) {
    rmSync(tmp, { force: true });
    const errno = (err as NodeJS.ErrnoException).code;
    const code = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'ERR_RESOURCE_EXHAUSTED' : 'ERR_INTERNAL';
    throw new MayuError(code, `sandbox ${record.id}: cannot write its state ${join(record.stateDir, 'state.json')}: ${(err as Error).message}`, {
      cause: err,
      details: { id: record.id, path: join(record.stateDir, 'state.json') },
    });
  }
}

/**
 * Creates the sandbox's state directory (mode 0700). A leftover directory of
 * a sandbox whose hypervisor is gone is removed first; one whose hypervisor
 * still runs is an ERR_ALREADY_EXISTS.
 */
export function createStateDir(stateRoot: string, id: string): string {
  validateSandboxId(id);
  const dir = sandboxDir(stateRoot, id);
  if (join(dir, LONGEST_SOCKET_NAME).length > SUN_PATH_MAX) {
    throw invalidArgument('runtime.state_dir', stateRoot, `is too long: socket paths under it would exceed ${SUN_PATH_MAX} bytes`);
  }
  mkdirSync(join(stateRoot, 'sandboxes'), { recursive: true, mode: 0o711 });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const record = readRecord(dir);
    if (record && recordProcessAlive(record)) {
      throw new MayuError('ERR_ALREADY_EXISTS', `sandbox ${id} already exists and is running (pid ${record.pid})`, {
        details: { id, pid: record.pid },
      });
    }
    removeDirSafely(dir);
    mkdirSync(dir, { mode: 0o700 });
  }
  return dir;
}
