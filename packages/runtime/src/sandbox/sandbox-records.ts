import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MayuError } from '@mayu/protocol';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { removeDirSafely } from '../storage/host-mounts.js';
import { detachPodNetwork } from '../network/pod-network.js';
import { terminate } from '../util/process.js';
import { readRecord, recordProcessAlive, sandboxDir, validateSandboxId, type SandboxRecord } from './state-dir.js';

export interface SandboxListing extends SandboxRecord {
  running: boolean;
}

/** Every sandbox with a state directory under the configured state root. */
export function listSandboxes(config: RuntimeConfig): SandboxListing[] {
  const root = join(config.runtime.stateDir, 'sandboxes');
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    const record = readRecord(join(root, id));
    return record ? [{ ...record, running: recordProcessAlive(record) }] : [];
  });
}

/**
 * Removes a sandbox another process left running (mayu boot --keep): its
 * hypervisor is killed only when `force` is set and only if its command line
 * still names the sandbox's state directory; then the directory goes.
 */
export async function removeSandbox(config: RuntimeConfig, id: string, force: boolean): Promise<void> {
  validateSandboxId(id);
  const dir = sandboxDir(config.runtime.stateDir, id);
  const record = readRecord(dir);
  if (!record) throw new MayuError('ERR_NOT_FOUND', `no sandbox ${id} under ${config.runtime.stateDir}`, { details: { id } });
  if (recordProcessAlive(record)) {
    if (!force) throw new MayuError('ERR_INVALID_STATE', `sandbox ${id} is running (pid ${record.pid}); use --force`, { details: { id } });
    await terminate(record.pid as number, 2000);
  }
  if (record.network) await detachPodNetwork(record.network);
  removeDirSafely(dir);
}
