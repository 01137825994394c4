import { invalidArgument } from '@mayu/protocol';
import type { SandboxConfig } from '../config/runtime-config.js';

/** Annotations that size a sandbox's VM directly. */
export const VCPUS_ANNOTATION = 'io.mayu.vcpus';
export const MEMORY_ANNOTATION = 'io.mayu.memory_mib';

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

/**
 * The VM's vCPUs and memory for a container: the annotations when given
 * (at most max_vcpus / max_memory, else an error); else, as Kata does, the
 * configured defaults plus what the container's limits ask for (CPU
 * quota/period rounded up, the memory limit in MiB), capped at max_vcpus and
 * max_memory: a container limit never sizes a VM beyond what the
 * configuration allows.
 */
export function vmSizeFromSpec(spec: unknown, q: SandboxConfig): { vcpus: number; memoryMib: number } {
  const s = (spec ?? {}) as SizedSpec;
  const cpu = s.linux?.resources?.cpu;
  const quota = Number(cpu?.quota);
  const period = Number(cpu?.period);
  const extraCpus = quota > 0 && period > 0 && Number.isFinite(quota / period) ? Math.ceil(quota / period) : 0;
  const limit = Number(s.linux?.resources?.memory?.limit);
  const extraMib = limit > 0 && Number.isFinite(limit) ? Math.ceil(limit / 1048576) : 0;
  return {
    vcpus: annotation(s, VCPUS_ANNOTATION, q.maxVcpus, 'max_vcpus') ?? Math.min(q.maxVcpus, q.defaultVcpus + extraCpus),
    memoryMib: annotation(s, MEMORY_ANNOTATION, q.maxMemoryMib, 'max_memory') ?? Math.min(q.maxMemoryMib, q.defaultMemoryMib + extraMib),
  };
}
