/**
 * QEMU's own seccomp filter: no obsolete syscalls, no new processes, no
 * resource-control calls, and no privilege changes — except that -runas
 * must change uid after the filter is installed (QEMU 7.2 installs it
 * first), so with `runAs` set*uid stays allowed: once QEMU has dropped to
 * the unprivileged uid it has no capabilities left (and no_new_privs), so it
 * cannot regain anything. Incompatible with -daemonize, which mayu never
 * uses (it keeps QEMU as its child).
 */
export function sandboxArgs(enabled: boolean, runAs = false): string[] {
  if (!enabled) return [];
  return ['-sandbox', `on,obsolete=deny,elevateprivileges=${runAs ? 'allow' : 'deny'},spawn=deny,resourcecontrol=deny`];
}

/** -runas UID:GID: QEMU drops to this user once its devices and files are open. */
export function runAsArgs(runAs: { uid: number; gid: number } | null): string[] {
  return runAs ? ['-runas', `${runAs.uid}:${runAs.gid}`] : [];
}
