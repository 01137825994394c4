import { invalidArgument } from '@mayu/protocol';
import type { Accel } from './machine.js';

/**
 * -cpu and -smp. Under KVM the guest sees the host CPU; under TCG, every
 * feature TCG emulates ("host" needs KVM). With `maxVcpus`, that many vCPUs
 * exist (the guest kernel brings up `vcpus` of them, maxcpus=, and the agent
 * onlines more as the VM grows); an offline vCPU waits for its start-up IPI
 * and costs the host no CPU.
 */
export function cpuArgs(opts: { accel: Accel; vcpus: number; maxVcpus?: number }): string[] {
  if (!Number.isInteger(opts.vcpus) || opts.vcpus < 1 || opts.vcpus > 255) {
    throw invalidArgument('vcpus', opts.vcpus, 'must be an integer from 1 to 255');
  }
  const max = opts.maxVcpus ?? opts.vcpus;
  if (!Number.isInteger(max) || max < opts.vcpus || max > 255) throw invalidArgument('maxVcpus', opts.maxVcpus, `must be an integer from vcpus (${opts.vcpus}) to 255`);
  return ['-cpu', opts.accel === 'kvm' ? 'host' : 'max', '-smp', String(max)];
}
