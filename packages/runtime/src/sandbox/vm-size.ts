import { invalidArgument } from '@mayu/protocol';
import type { SandboxConfig } from '../config/runtime-config.js';

/** Annotations that size a sandbox's VM directly. */
export const VCPUS_ANNOTATION = 'io.mayu.vcpus';
export const MEMORY_ANNOTATION = 'io.mayu.memory_mib';

/**
 * What containerd 1.7 and later write on a pod's sandbox spec when kubelet
 * sends the pod's resources (the sum of its containers' limits): the VM is
 * sized for them at once, as Kata's static_sandbox_resource_mgmt does.
 */
export const SANDBOX_CPU_QUOTA_ANNOTATION = 'io.kubernetes.cri.sandbox-cpu-quota';
export const SANDBOX_CPU_PERIOD_ANNOTATION = 'io.kubernetes.cri.sandbox-cpu-period';
export const SANDBOX_MEMORY_ANNOTATION = 'io.kubernetes.cri.sandbox-memory';

interface SizedSpec {
  annotations?: Record<string, string>;
  linux?: { resources?: { cpu?: { quota?: number; period?: number }; memory?: { limit?: number } } };
}

function annotation(spec: SizedSpec, key: string, max: number, configKey: string): number | undefined {
  const raw = spec.annotations?.[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw invalidArgument(`/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, raw, `must be an integer from 1 to ${max} (sandbox.${configKey})`);
  }
  return n;
}

/** Whole CPUs for a CFS quota over its period (rounded up); 0 for none, -1 (unlimited) or nonsense. */
function cpusOf(quota: unknown, period: unknown): number {
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 && Number.isFinite(q / p) ? Math.ceil(q / p) : 0;
}

/** MiB for a memory limit in bytes (rounded up); 0 for none or nonsense. */
function mibOf(bytes: unknown): number {
  const b = Number(bytes);
  return b > 0 && Number.isFinite(b) ? Math.ceil(b / 1048576) : 0;
}

/**
 * The VM's vCPUs and memory for a container: the annotations when given
 * (at most max_vcpus / max_memory, else an error); else, as Kata does, the
 * configured defaults plus what the container's limits ask for (CPU
 * quota/period rounded up, the memory limit in MiB) — for a pod's sandbox,
 * the pod's limits from CRI's sandbox annotations (containerd 1.7+) —
 * capped at max_vcpus and max_memory: a limit never sizes a VM beyond what
 * the configuration allows.
 */
export function vmSizeFromSpec(spec: unknown, q: SandboxConfig): { vcpus: number; memoryMib: number } {
  const s = (spec ?? {}) as SizedSpec;
  const cpu = s.linux?.resources?.cpu;
  const pod = s.annotations ?? {};
  // The container's own limits (a standalone container), or the pod's from CRI's sandbox annotations: the larger.
  const extraCpus = Math.max(cpusOf(cpu?.quota, cpu?.period), cpusOf(pod[SANDBOX_CPU_QUOTA_ANNOTATION], pod[SANDBOX_CPU_PERIOD_ANNOTATION]));
  const extraMib = Math.max(mibOf(s.linux?.resources?.memory?.limit), mibOf(pod[SANDBOX_MEMORY_ANNOTATION]));
  return {
    vcpus: annotation(s, VCPUS_ANNOTATION, q.maxVcpus, 'max_vcpus') ?? Math.min(q.maxVcpus, q.defaultVcpus + extraCpus),
    memoryMib: annotation(s, MEMORY_ANNOTATION, q.maxMemoryMib, 'max_memory') ?? Math.min(q.maxMemoryMib, q.defaultMemoryMib + extraMib),
  };
}
