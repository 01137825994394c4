import { MayuError } from '@mayu/protocol';
import type { HypervisorFactory } from './hypervisor.js';

const backends = new Map<string, HypervisorFactory>();

/** Makes a backend available by name (`sandbox.hypervisor` in the configuration). */
export function registerHypervisor(name: string, factory: HypervisorFactory): void {
  backends.set(name, factory);
}

/** The factory of a registered backend; an unknown name is ERR_CONFIG_INVALID naming the ones there are. */
export function hypervisorFactory(name: string): HypervisorFactory {
  const factory = backends.get(name);
  if (!factory) {
    throw new MayuError('ERR_CONFIG_INVALID', `sandbox.hypervisor: no backend named ${JSON.stringify(name)} (there are: ${[...backends.keys()].join(', ')})`, { details: { name } });
  }
  return factory;
}

export function registeredHypervisors(): string[] {
  return [...backends.keys()];
}
