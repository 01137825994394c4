import { invalidArgument, isKubernetesSpec } from '@mayu/protocol';
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

/** An annotation's JSON pointer in the spec (RFC 6901: ~ and / escaped). */
const annotationPointer = (key: string): string => `/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

function annotation(spec: SizedSpec, key: string, max: number, configKey: string, allowed: SandboxConfig['sizeAnnotations']): number | undefined {
  const raw = spec.annotations?.[key];
  if (raw === undefined) return undefined;
  const pointer = annotationPointer(key);
  if (allowed === 'never') throw invalidArgument(pointer, raw, 'sizes the VM, which this configuration allows no one (sandbox.size_annotations = "never")');
  if (allowed === 'standalone' && isKubernetesSpec(spec))
    throw invalidArgument(
      pointer,
      raw,
      'would size a Kubernetes pod\'s VM outside what the scheduler accounts for (its limits and the RuntimeClass overhead size it); allowed only for standalone containers (sandbox.size_annotations = "standalone"; "always" allows pods)',
    );
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw invalidArgument(pointer, raw, `must be an integer from 1 to ${max} (sandbox.${configKey})`);
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
 * (at most max_vcpus / max_memory, and only where sandbox.size_annotations
 * allows them — by default not for a Kubernetes pod — else an error); else,
 * as Kata does, the
 * configured defaults plus what the container's limits ask for (CPU
 * quota/period rounded up, the memory limit in MiB) — for a pod's sandbox,
 * the pod's limits from CRI's sandbox annotations (containerd 1.7+) —
 * capped at max_vcpus and max_memory: a limit never sizes a VM beyond what
 * the configuration allows. A limit that alone exceeds max_vcpus or
 * max_memory could never be given: it is refused, naming the field, the
 * value and the key, rather than run in a VM that cannot honour it.
 */
export function vmSizeFromSpec(spec: unknown, q: SandboxConfig): { vcpus: number; memoryMib: number } {
  const s = (spec ?? {}) as SizedSpec;
  const cpu = s.linux?.resources?.cpu;
  const pod = s.annotations ?? {};
  // The container's own limits (a standalone container), or the pod's from CRI's sandbox annotations: the larger.
  const { cpus: ownCpus, mib: ownMib } = containerLimits(s.linux?.resources);
  const podCpus = cpusOf(pod[SANDBOX_CPU_QUOTA_ANNOTATION], pod[SANDBOX_CPU_PERIOD_ANNOTATION]);
  const podMib = mibOf(pod[SANDBOX_MEMORY_ANNOTATION]);
  if (ownCpus > q.maxVcpus) throw invalidArgument('/linux/resources/cpu/quota', cpu?.quota, `is ${ownCpus} CPUs over its period, more than a VM may have (sandbox.max_vcpus = ${q.maxVcpus})`);
  if (podCpus > q.maxVcpus)
    throw invalidArgument(
      annotationPointer(SANDBOX_CPU_QUOTA_ANNOTATION),
      pod[SANDBOX_CPU_QUOTA_ANNOTATION],
      `is the pod's CPU limit, more CPUs than a VM may have (sandbox.max_vcpus = ${q.maxVcpus})`,
    );
  if (ownMib > q.maxMemoryMib)
    throw invalidArgument('/linux/resources/memory/limit', s.linux?.resources?.memory?.limit, `is more memory than a VM may have (sandbox.max_memory = ${q.maxMemoryMib} MiB)`);
  if (podMib > q.maxMemoryMib)
    throw invalidArgument(
      annotationPointer(SANDBOX_MEMORY_ANNOTATION),
      pod[SANDBOX_MEMORY_ANNOTATION],
      `is the pod's memory limit, more than a VM may have (sandbox.max_memory = ${q.maxMemoryMib} MiB)`,
    );
  const extraCpus = Math.max(ownCpus, podCpus);
  const extraMib = Math.max(ownMib, podMib);
  return {
    vcpus: annotation(s, VCPUS_ANNOTATION, q.maxVcpus, 'max_vcpus', q.sizeAnnotations) ?? Math.min(q.maxVcpus, q.defaultVcpus + extraCpus),
    memoryMib: annotation(s, MEMORY_ANNOTATION, q.maxMemoryMib, 'max_memory', q.sizeAnnotations) ?? Math.min(q.maxMemoryMib, q.defaultMemoryMib + extraMib),
  };
}

/** Whether a pod's sandbox spec says the pod has a memory limit (CRI's sandbox annotation, containerd 1.7+). */
export function podHasMemoryLimit(spec: unknown): boolean {
  return mibOf((spec as SizedSpec | undefined)?.annotations?.[SANDBOX_MEMORY_ANNOTATION]) > 0;
}

/**
 * Whether a VM booted for this spec may have to grow its memory after boot:
 * a Kubernetes pod's sandbox whose pod limits it does not carry (containerd
 * 1.6 and cri-o write none: its containers bring them later), or whose pod
 * has a memory limit (kubelet may resize it in place). A pod known to have
 * none never needs more than it boots with (its containers share the VM);
 * a standalone container is sized once, at boot.
 */
export function mayGrowMemory(spec: unknown): boolean {
  const s = (spec ?? {}) as SizedSpec;
  if (!isKubernetesSpec(s)) return false;
  return s.annotations?.[SANDBOX_MEMORY_ANNOTATION] === undefined || podHasMemoryLimit(s);
}

/**
 * Host memory a pod's VM may take beyond its guest memory: QEMU's own
 * (devices, heap; measured ~45 MiB beside its guest RAM at boot and after
 * growing by 1 GiB) and the shim's (~85 MiB RSS), with room for both to
 * grow — plus, under TCG, its translated-code buffer (tcg_tb_size).
 */
export const VMM_MEMORY_OVERHEAD_MIB = 192;

/** The most host memory a VM of `memoryMib` and its VMM may hold (MiB): the bound on a limited pod's host cgroup. */
export function vmmMemoryBoundMib(memoryMib: number, tcgTbMib: number): number {
  return memoryMib + VMM_MEMORY_OVERHEAD_MIB + tcgTbMib;
}

/** What a VM is, or is to be: vCPUs and MiB of memory. */
export interface VmSize {
  vcpus: number;
  memoryMib: number;
}

/** What one container's own limits ask of its pod's VM (whole CPUs of its quota, MiB of its memory limit; 0 for none). */
export interface ContainerLimits {
  cpus: number;
  mib: number;
}

/** A container's own limits, from its spec's linux.resources (or an Update's LinuxResources). */
export function containerLimits(resources: unknown): ContainerLimits {
  const r = (resources ?? {}) as NonNullable<NonNullable<SizedSpec['linux']>['resources']>;
  return { cpus: cpusOf(r.cpu?.quota, r.cpu?.period), mib: mibOf(r.memory?.limit) };
}

/**
 * The size a pod's VM must have for its containers: the configured defaults
 * (the guest's own base) plus the sum of the containers' limits, capped at
 * max_vcpus / max_memory — and never below `booted`, what the VM was started
 * with (on containerd 1.7 and later, already the pod's limits). A sum beyond
 * the maximum gets the maximum: each container's own cgroup still bounds it.
 */
export function podVmSize(q: SandboxConfig, booted: VmSize, members: Iterable<ContainerLimits>): VmSize {
  let cpus = 0;
  let mib = 0;
  for (const m of members) {
    cpus += m.cpus;
    mib += m.mib;
  }
  return {
    vcpus: Math.max(booted.vcpus, Math.min(q.maxVcpus, q.defaultVcpus + cpus)),
    memoryMib: Math.max(booted.memoryMib, Math.min(q.maxMemoryMib, q.defaultMemoryMib + mib)),
  };
}
