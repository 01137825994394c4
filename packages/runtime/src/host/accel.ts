import { accessSync, constants, existsSync } from 'node:fs';
import { readCpuInfo, type CpuInfo } from './cpu-info.js';

export type Accel = 'kvm' | 'tcg';

export interface AccelDecision {
  accel: Accel;
  /** Why: what made KVM usable or not. */
  reason: string;
}

/** What the host offers for KVM, gathered without starting anything. */
export interface KvmFacts {
  devKvmUsable: boolean;
  cpu: CpuInfo;
  /** Loaded kvm modules (/sys/module/kvm_*). */
  modules: Set<string>;
}

export function gatherKvmFacts(root = ''): KvmFacts {
  let devKvmUsable = false;
  try {
    accessSync(`${root}/dev/kvm`, constants.R_OK | constants.W_OK);
    devKvmUsable = true;
  } catch {
    devKvmUsable = false;
  }
  const modules = new Set(['kvm_intel', 'kvm_amd', 'kvm_pvm'].filter((m) => existsSync(`${root}/sys/module/${m}`)));
  return { devKvmUsable, cpu: readCpuInfo(), modules };
}

/**
 * Whether KVM here is hardware virtualization a stock guest kernel can run
 * on. PVM (kvm_pvm) is a software hypervisor behind /dev/kvm: a stock kernel
 * crawls through its instruction emulator and dies, so it does not count.
 */
export function kvmVerdict(facts: KvmFacts): { usable: boolean; reason: string } {
  if (!facts.devKvmUsable) return { usable: false, reason: '/dev/kvm is missing or not read-write for this user' };
  if (facts.modules.has('kvm_pvm')) {
    return { usable: false, reason: '/dev/kvm is PVM (kvm_pvm), a software hypervisor that cannot run a stock guest kernel' };
  }
  const hw = facts.cpu.flags.has('vmx') ? 'vmx' : facts.cpu.flags.has('svm') ? 'svm' : null;
  if (!hw) return { usable: false, reason: 'the CPU has no vmx/svm flag: /dev/kvm is not hardware virtualization' };
  const module = hw === 'vmx' ? 'kvm_intel' : 'kvm_amd';
  if (!facts.modules.has(module)) return { usable: false, reason: `${module} is not loaded` };
  return { usable: true, reason: `hardware virtualization (${hw}, ${module})` };
}

/**
 * Settles `auto` to kvm or tcg from the facts alone (no guest is started).
 * An explicit kvm or tcg is returned as asked.
 */
export function decideAccel(requested: 'auto' | Accel, facts: KvmFacts = gatherKvmFacts()): AccelDecision {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'configured accel = "tcg"' };
  if (requested === 'kvm') return { accel: 'kvm', reason: 'configured accel = "kvm"' };
  const verdict = kvmVerdict(facts);
  return verdict.usable ? { accel: 'kvm', reason: `auto: ${verdict.reason}` } : { accel: 'tcg', reason: `auto: ${verdict.reason}; using TCG (software emulation)` };
}
