import { accessSync, constants } from 'node:fs';

/** Whether QEMU could give a guest a vhost-vsock device here. */
export function hostHasVhostVsock(path = '/dev/vhost-vsock'): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
