import { readFileSync } from 'node:fs';
import { MayuError } from '@mayu/protocol';

/** A running VM's memory: its size, and what its hypervisor process already holds. */
export interface MemoryClaim {
  id: string;
  memoryMib: number;
  rssMib: number;
}

export interface AdmissionInput {
  id: string;
  memoryMib: number;
  reserveMib: number;
  /** The host's MemAvailable. */
  availableMib: number;
  /** The other VMs of this state directory that run. */
  running: MemoryClaim[];
}

/**
 * Host memory admission: a VM starts only if the host's available memory
 * holds all of it, plus what each running VM may still claim (its size less
 * its hypervisor's RSS: a guest can touch all of its RAM at any time), plus
 * the reserve. Refused with ERR_RESOURCE_EXHAUSTED and every figure.
 */
export function admitVm(o: AdmissionInput): void {
  if (o.reserveMib === 0) return;
  const claimable = o.running.reduce((sum, vm) => sum + Math.max(0, vm.memoryMib - vm.rssMib), 0);
  const needed = o.memoryMib + claimable + o.reserveMib;
  if (needed <= o.availableMib) return;
  throw new MayuError(
    'ERR_RESOURCE_EXHAUSTED',
    `sandbox ${o.id}: not enough host memory for a VM of ${o.memoryMib} MiB: the host has ${Math.floor(o.availableMib)} MiB available, ` +
      `${Math.ceil(claimable)} MiB of it may yet be claimed by ${o.running.length} running VM(s), and runtime.host_memory_reserve keeps ${o.reserveMib} MiB`,
    { details: { id: o.id, memoryMib: o.memoryMib, availableMib: Math.floor(o.availableMib), claimableMib: Math.ceil(claimable), runningVms: o.running.length, reserveMib: o.reserveMib } },
  );
}

/** A /proc/meminfo-style field in MiB, or NaN. */
export function meminfoMib(text: string, field: string): number {
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
}

/** The host's MemAvailable in MiB. */
export function hostAvailableMib(): number {
  return meminfoMib(readFileSync('/proc/meminfo', 'utf8'), 'MemAvailable');
}

/** A process's resident set in MiB (0 when it is gone). */
export function processRssMib(pid: number): number {
  try {
    const v = meminfoMib(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
    return Number.isFinite(v) ? v : 0;
  } catch {
    return 0;
  }
}
