/**
 * QEMU's own seccomp filter: no obsolete syscalls, no privilege changes, no
 * new processes, no resource-control calls. Incompatible with -daemonize,
 * which mayu never uses (it keeps QEMU as its child).
 */
export function sandboxArgs(enabled: boolean): string[] {
  return enabled ? ['-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'] : [];
}
