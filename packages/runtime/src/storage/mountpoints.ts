import { chmodSync, closeSync, openSync } from 'node:fs';
import { constants } from 'node:fs';
import { hostPath, lstatOrNull, resolveInRoot } from '../image/in-root.js';

export interface Mountpoint {
  /** Where in the container (an absolute path in the rootfs). */
  destination: string;
  /** A bind mount of a file needs a file to mount onto; anything else a directory. */
  file: boolean;
}

/**
 * Creates what a read-only root filesystem lacks for the spec's mounts, as
 * an OCI runtime would before making the root read-only: each destination's
 * directories (0755) and the last component (an empty file for a file bind,
 * else a directory), resolved beneath `root` with chroot semantics — a
 * symlink in the image is followed inside the rootfs, never out of it — and
 * never replacing what is there. Only for trees nobody else writes while we
 * do: a rootfs the guest has not been given yet.
 */
export function ensureMountpoints(root: string, mountpoints: readonly Mountpoint[]): void {
  for (const m of mountpoints) {
    const parts = m.destination.split('/').filter((p) => p !== '' && p !== '.');
    const name = parts.pop();
    if (name === undefined || name === '..') continue;
    const parent = resolveInRoot(root, parts, { create: true, onCreate: (rel) => chmodSync(hostPath(root, rel), 0o755) });
    if (!parent) continue;
    const path = hostPath(root, [...parent, name]);
    // Something there already (a symlink included: the OCI runtime resolves it inside the rootfs).
    if (lstatOrNull(path)) continue;
    if (m.file) closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644));
    else resolveInRoot(root, [...parent, name], { create: true, onCreate: (rel) => chmodSync(hostPath(root, rel), 0o755) });
  }
}
