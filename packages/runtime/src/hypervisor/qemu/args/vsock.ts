import { invalidArgument } from '@mayu/protocol';
import { virtioDevice, type DeviceTransport } from './option-value.js';

/** A vhost-vsock device with the guest's context id (unique on the host, 3 and up). */
export function vsockArgs(opts: { cid: number; transport: DeviceTransport }): string[] {
  if (!Number.isInteger(opts.cid) || opts.cid < 3 || opts.cid >= 0xffffffff) {
    throw invalidArgument('vsock cid', opts.cid, 'must be an integer from 3 to 4294967294');
  }
  return ['-device', `${virtioDevice('vhost-vsock', opts.transport)},guest-cid=${opts.cid}`];
}
