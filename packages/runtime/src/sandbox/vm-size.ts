import { invalidArgument } from '@mayu/protocol';
import type { QemuConfig } from '../config/runtime-config.js';

/** Annotations that size a sandbox's VM directly. */
export const VCPUS_ANNOTATION = 'io.mayu.vcpus';
export const MEMORY_ANNOTATION = 'io.mayu.memory_mib';

interface SizedSpec {
  annotations?: Record<string, string>;
  linux?: { resources?: { cpu?: { quota?: number; period?: number }; memory?: { limit?: number } } };
}

function annotation(spec: SizedSpec, key: string, max: number): number | undefined {
  const raw = spec.annotations?.[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalidArgument(`/annotations/${key.replace(/\//g, '~1')}`, raw, `must be an integer from 1 to ${max}`);
  return n;
}

/**
 * The VM's vCPUs and memory for a container: the annotations when given;
 * else, as Kata does, the configured defaults plus what the container's
 * limits ask for (CPU quota/period rounded up, the memory limit in MiB).
 */
export function vmSizeFromSpec(spec: unknown, q: QemuConfig): { vcpus: number; memoryMib: number } {
  const s = (spec ?? {}) as SizedSpec;
  const cpu = s.linux?.resources?.cpu;
  const extraCpus = cpu?.quota && cpu.quota > 0 && cpu.period && cpu.period > 0 ? Math.ceil(cpu.quota / cpu.period) : 0;
  const limit = s.linux?.resources?.memory?.limit;
  const extraMib = limit && limit > 0 ? Math.ceil(limit / 1048576) : 0;
  return {
    vcpus: annotation(s, VCPUS_ANNOTATION, 64) ?? Math.min(64, q.defaultVcpus + extraCpus),
    memoryMib: annotation(s, MEMORY_ANNOTATION, 262144) ?? q.defaultMemoryMib + extraMib,
  };
}
