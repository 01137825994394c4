import { connect } from 'node:net';
import { join } from 'node:path';
import { isMayuError, taskWire } from '@mayu/protocol';
import { removeSandbox } from '@mayu/runtime';
import { annotationsOf, groupIdOf, socketPath } from './address.js';
import { shimConfig } from './config.js';
import { timestamp } from './events/publisher.js';
import type { ShimFlags } from './flags.js';
import { unmountRootfs } from './server/rootfs-mounts.js';

function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * `delete`: containerd's clean-up after a task is gone or its shim died. It
 * is idempotent and quick: the bundle's rootfs is unmounted if still mounted,
 * and only when this is the pod's sandbox and its shim is gone is the VM
 * killed. Its stdout is only a DeleteResponse.
 */
export async function deleteTask(f: ShimFlags): Promise<number> {
  const bundle = f.bundle || process.cwd();
  const groupId = groupIdOf(f.id, annotationsOf(bundle));
  await unmountRootfs(join(bundle, 'rootfs'));
  if (groupId === f.id && !(await alive(socketPath(f.address, f.namespace, groupId)))) {
    try {
      await removeSandbox(shimConfig(), groupId, true);
    } catch (err) {
      if (!isMayuError(err, 'ERR_NOT_FOUND')) process.stderr.write(`mayu: removing sandbox ${groupId}: ${(err as Error).message}\n`);
    }
  }
  process.stdout.write(taskWire.DeleteResponse.encode({ pid: 0, exitStatus: 137, exitedAt: timestamp() }).finish());
  return 0;
}
