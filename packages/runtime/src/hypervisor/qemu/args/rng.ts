import { virtioDevice, type DeviceTransport } from './option-value.js';

/**
 * virtio-rng fed from the host's /dev/urandom: without it the guest's
 * random pool initializes late, and Node blocks on getrandom() until it has.
 */
export function rngArgs(transport: DeviceTransport): string[] {
  return ['-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', `${virtioDevice('virtio-rng', transport)},rng=rng0`];
}
