import { createHash } from 'node:crypto';

/** Unprivileged uids for VMMs of run_as = "auto" start here (no /etc/passwd entry needed). */
export const VMM_UID_BASE = 2_000_000_000;
const VMM_UID_COUNT = 1_000_000;

/**
 * The uid:gid the hypervisor drops to, or null to stay root: run_as
 * "root" → null; "UID:GID" → that; "auto" → null when the VMM serves files
 * to the guest itself (9p: it must read and write them as their owners),
 * else a uid of the sandbox's own, derived from its id (so that two VMs
 * rarely share a uid, and never share one with a real user).
 */
export function vmmRunAs(runAs: string, sandboxId: string, servesFiles: boolean): { uid: number; gid: number } | null {
  if (runAs === 'root') return null;
  const m = /^(\d+):(\d+)$/.exec(runAs);
  if (m) return { uid: Number(m[1]), gid: Number(m[2]) };
  if (servesFiles) return null;
  const n = createHash('sha256').update(sandboxId).digest().readUInt32BE(0) % VMM_UID_COUNT;
  return { uid: VMM_UID_BASE + n, gid: VMM_UID_BASE + n };
}
