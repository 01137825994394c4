import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteResponse } from '@mayu/protocol/light';
import { annotationsOf, groupIdOf, SANDBOX_MARKER, serverAnswers, socketPath } from './address.js';
import type { ShimFlags } from './flags.js';
import { timestamp } from './timestamp.js';

function readMarker(path: string): { configPath: string; cgroups?: string[] } | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { configPath: string; cgroups?: string[] };
  } catch {
    return null;
  }
}

/**
 * `delete`: containerd's clean-up after a task is gone or its shim died. It
 * is idempotent and quick: the bundle's rootfs is unmounted if still mounted,
 * and only when this is the pod's sandbox, its server left a VM behind
 * (SANDBOX_MARKER) and is gone is the VM killed and the pod's cgroups it made removed. Its stdout is only a DeleteResponse.
 */
export async function deleteTask(f: ShimFlags): Promise<number> {
  const bundle = f.bundle || process.cwd();
  const groupId = groupIdOf(f.id, annotationsOf(bundle));
  const rootfs = join(bundle, 'rootfs');
  // The heavy modules load only when there is something to undo.
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${rootfs} `)) await (await import('./server/rootfs-mounts.js')).unmountRootfs(rootfs);
  const marker = readMarker(join(bundle, SANDBOX_MARKER));
  const socket = socketPath(f.address, f.namespace, groupId);
  const serverGone = groupId === f.id && !(await serverAnswers(socket));
  // A server killed outright leaves its socket file behind.
  if (serverGone) rmSync(socket, { force: true });
  if (serverGone && marker) {
    const [{ isMayuError }, { removeCgroupDirs, removeSandbox }, { shimConfig }] = await Promise.all([import('@mayu/protocol'), import('@mayu/runtime'), import('./config.js')]);
    try {
      await removeSandbox(shimConfig(marker.configPath || undefined), groupId, true);
    } catch (err) {
      if (!isMayuError(err, 'ERR_NOT_FOUND')) process.stderr.write(`mayu: removing sandbox ${groupId}: ${(err as Error).message}\n`);
    }
    // The pod's cgroups the server made for its VM, empty now that the VM is gone (only directories named /sys/fs/cgroup/…, as it wrote them).
    const made = (marker.cgroups ?? []).filter((d) => typeof d === 'string' && d.startsWith('/sys/fs/cgroup/') && !d.split('/').includes('..'));
    removeCgroupDirs(made, (dir, err) => process.stderr.write(`mayu: removing cgroup ${dir}: ${(err as Error).message}\n`));
  }
  process.stdout.write(DeleteResponse.encode({ pid: 0, exitStatus: 137, exitedAt: timestamp() }).finish());
  return 0;
}
