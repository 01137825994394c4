import { invalidArgument } from '@mayu/protocol';
import type { Accel } from './machine.js';

/**
 * -cpu and -smp. Under KVM the guest sees the host CPU; under TCG, every
 * feature TCG emulates ("host" needs KVM).
 */
export function cpuArgs(opts: { accel: Accel; vcpus: number }): string[] {
  if (!Number.isInteger(opts.vcpus) || opts.vcpus < 1 || opts.vcpus > 255) {
    throw invalidArgument('vcpus', opts.vcpus, 'must be an integer from 1 to 255');
  }
  return ['-cpu', opts.accel === 'kvm' ? 'host' : 'max', '-smp', String(opts.vcpus)];
}
