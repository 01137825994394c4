import { join } from 'node:path';
import { anyWire, cgroupsV1Wire, cgroupsV2Wire, criWire, MayuError, sandboxWire } from '@mayu/protocol';
import type { ServiceImplementation } from '@mayu/ttrpc';
import type { Logger } from 'pino';
import { writePodFiles } from './pod-files.js';
import { timestamp } from '../timestamp.js';
import type { TaskService } from './task-service.js';

type SandboxDef = typeof sandboxWire.SandboxDefinition;

/** The type containerd's CRI gives CreateSandbox's options: the pod's CRI config. */
const POD_CONFIG_TYPE = 'runtime.v1.PodSandboxConfig';

/** CRI's names for a pod sandbox's state, which containerd passes on to kubelet. */
export const SANDBOX_READY = 'SANDBOX_READY';
export const SANDBOX_NOTREADY = 'SANDBOX_NOTREADY';

/** What the shim takes from CreateSandbox: a spec-shaped description of the pod, as its pause container's spec would have said it. */
export interface PodRequest {
  /** The fields of an OCI spec the VM is booted from: hostname, the pod's network namespace and host cgroup, its resources and annotations. */
  spec: {
    hostname?: string;
    annotations: Record<string, string>;
    linux: {
      cgroupsPath?: string;
      namespaces: { type: string; path: string }[];
      resources?: { memory?: { limit: number }; cpu?: { quota: number; period: number } };
    };
  };
  /** The pod's sysctls (linux.sysctls), which a pause container's spec would carry: each container gets them (its own win). */
  sysctls: Record<string, string>;
  /** The pod's DNS configuration and hostname, for its /etc files. */
  dns: criWire.DNSConfig | undefined;
  hostname: string;
}

const asNumber = (field: string, v: bigint): number => {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MayuError('ERR_INVALID_ARGUMENT', `CreateSandbox options: ${field} ${v} is out of range`);
  return Number(v);
};

/**
 * The host cgroup of a pod started through the Sandbox API: the pod's own
 * (kubelet's cgroup_parent) with the sandbox id below it, the path
 * containerd would give the pause container — `parent/id` for cgroupfs, and
 * systemd's `slice:cri-containerd:id` when the parent is a slice.
 */
export function podCgroupsPathOf(parent: string, sandboxId: string): string | undefined {
  if (parent === '') return undefined;
  return parent.endsWith('.slice') ? `${parent}:cri-containerd:${sandboxId}` : `${parent.replace(/\/+$/, '')}/${sandboxId}`;
}

const NAMESPACE_MODES = ['POD', 'CONTAINER', 'NODE', 'TARGET'];

/**
 * The host's namespaces a pod's CRI config asks for (namespace_options
 * NODE: hostNetwork, hostPID, hostIPC). A VM never shares them: with
 * runtime.host_namespaces = "refuse" (the default) the pod is refused naming
 * the first; with "vm" each is reported to `onAccepted` and the pod gets the
 * VM's own (a hostNetwork pod: no network namespace is wired, and CRI gives
 * it none).
 */
function checkHostNamespaces(config: criWire.PodSandboxConfig | undefined, mode: 'refuse' | 'vm', onAccepted: (field: string) => void): void {
  const options = config?.linux?.securityContext?.namespaceOptions;
  if (!options) return;
  for (const type of ['network', 'pid', 'ipc'] as const) {
    if (options[type] !== criWire.NamespaceMode.NODE) continue;
    const field = `linux.security_context.namespace_options.${type}`;
    if (mode === 'refuse')
      throw new MayuError(
        'ERR_INVALID_ARGUMENT',
        `CreateSandbox options: ${field} = ${NAMESPACE_MODES[options[type]]} asks for the host's ${type} namespace, which a pod in a VM never shares (runtime.host_namespaces = "refuse"; "vm" gives the pod the VM's own)`,
      );
    onAccepted(field);
  }
}

/**
 * CreateSandbox's request as the spec-shaped description the VM is booted
 * from. options is CRI's PodSandboxConfig (none from a client other than
 * CRI); any other type is INVALID_ARGUMENT naming it. The host's namespaces
 * are judged by `hostNamespaces` (runtime.host_namespaces).
 */
export function podRequestOf(r: sandboxWire.CreateSandboxRequest, hostNamespaces: 'refuse' | 'vm' = 'refuse', onAccepted: (field: string) => void = () => {}): PodRequest {
  let config: criWire.PodSandboxConfig | undefined;
  if (r.options && r.options.typeUrl !== '') {
    const type = r.options.typeUrl.replace(/^.*\//, '');
    if (type !== POD_CONFIG_TYPE) throw new MayuError('ERR_INVALID_ARGUMENT', `CreateSandbox options: type ${JSON.stringify(r.options.typeUrl)} is not ${POD_CONFIG_TYPE}`);
    try {
      config = criWire.PodSandboxConfig.decode(r.options.value);
    } catch (err) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `CreateSandbox options: not a ${POD_CONFIG_TYPE} (${(err as Error).message})`);
    }
  }
  checkHostNamespaces(config, hostNamespaces, onAccepted);
  const res = config?.linux?.resources;
  const memory = res && res.memoryLimitInBytes > 0n ? { limit: asNumber('linux.resources.memory_limit_in_bytes', res.memoryLimitInBytes) } : undefined;
  const cpu =
    res && res.cpuQuota > 0n && res.cpuPeriod > 0n ? { quota: asNumber('linux.resources.cpu_quota', res.cpuQuota), period: asNumber('linux.resources.cpu_period', res.cpuPeriod) } : undefined;
  const cgroupsPath = podCgroupsPathOf(config?.linux?.cgroupParent ?? '', r.sandboxId);
  return {
    spec: {
      ...(config?.hostname ? { hostname: config.hostname } : {}),
      // CRI's marks of a pod sandbox, as its pause container's spec would carry them (a Kubernetes pod: see sandbox.size_annotations).
      annotations: {
        ...(config?.annotations ?? {}),
        ...r.annotations,
        ...(config ? { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': r.sandboxId } : {}),
        // The pod's memory limit as containerd's CRI writes it on a pause container's spec (0: none): whether its VM may have to grow.
        ...(res ? { 'io.kubernetes.cri.sandbox-memory': String(res.memoryLimitInBytes) } : {}),
      },
      linux: {
        ...(cgroupsPath ? { cgroupsPath } : {}),
        namespaces: r.netnsPath ? [{ type: 'network', path: r.netnsPath }] : [],
        ...(memory || cpu ? { resources: { ...(memory ? { memory } : {}), ...(cpu ? { cpu } : {}) } } : {}),
      },
    },
    sysctls: config?.linux?.sysctls ?? {},
    dns: config?.dnsConfig,
    hostname: config?.hostname ?? '',
  };
}

/**
 * containerd's Sandbox API (containerd 2.x with `sandboxer = "shim"`) for
 * the pod this shim serves, beside the Task API on the same socket: the pod
 * is its VM, booted by StartSandbox from the CRI config CreateSandbox gave —
 * no pause container, no config.json. Containers then arrive as Task.Create
 * and share the pod's namespaces the agent keeps. The pid containerd is
 * given is QEMU's.
 */
export class SandboxService {
  private pod: PodRequest | null = null;
  private createdAt: Date | null = null;

  constructor(
    private readonly sandboxId: string,
    /** Where the pod's /etc files are written (the sandbox's bundle). */
    private readonly bundle: string,
    private readonly tasks: TaskService,
    private readonly log: Logger,
  ) {}

  implementation(): ServiceImplementation<SandboxDef> {
    return {
      createSandbox: async (r) => this.create(r),
      startSandbox: async (r) => this.start(r.sandboxId),
      platform: async (r) => {
        this.check(r.sandboxId);
        return { platform: { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', variant: '', osVersion: '' } };
      },
      stopSandbox: async (r) => this.stop(r.sandboxId, r.timeoutSecs),
      waitSandbox: async (r) => this.wait(r.sandboxId),
      sandboxStatus: async (r) => this.status(r.sandboxId, r.verbose),
      pingSandbox: async (r) => {
        this.check(r.sandboxId);
        return {};
      },
      shutdownSandbox: async (r) => {
        this.check(r.sandboxId);
        this.tasks.end();
        return {};
      },
      sandboxMetrics: async (r) => this.metrics(r.sandboxId),
    };
  }

  /** Every call names this shim's sandbox; another is NOT_FOUND. */
  private check(id: string): void {
    if (id !== this.sandboxId) throw new MayuError('ERR_NOT_FOUND', `sandbox ${id} not found (this shim serves ${this.sandboxId})`);
  }

  private create(r: sandboxWire.CreateSandboxRequest): sandboxWire.CreateSandboxResponse {
    this.check(r.sandboxId);
    if (this.pod) throw new MayuError('ERR_ALREADY_EXISTS', `sandbox ${r.sandboxId} already exists`);
    this.pod = podRequestOf(r, this.tasks.hostNamespaces, (field) => this.log.warn({ field }, 'the host\'s namespace asked for: the pod gets the VM\'s (runtime.host_namespaces = "vm")'));
    this.log.info({ event: 'sandbox.created', netns: r.netnsPath, cgroupsPath: this.pod.spec.linux.cgroupsPath, resources: this.pod.spec.linux.resources }, 'sandbox created (Sandbox API)');
    return {};
  }

  private async start(id: string): Promise<sandboxWire.StartSandboxResponse> {
    this.check(id);
    if (!this.pod) throw new MayuError('ERR_INVALID_STATE', `sandbox ${id} is not created: CreateSandbox first`);
    const pid = await this.tasks.startPod(this.pod.spec, { files: writePodFiles(join(this.bundle, 'pod-files'), this.pod), sysctls: this.pod.sysctls });
    this.createdAt ??= new Date();
    this.log.info({ event: 'sandbox.started', pid }, 'sandbox started (Sandbox API)');
    return { pid, createdAt: timestamp(this.createdAt) };
  }

  private async stop(id: string, timeoutSecs: number): Promise<sandboxWire.StopSandboxResponse> {
    this.check(id);
    await this.tasks.stopPod(timeoutSecs);
    return {};
  }

  private async wait(id: string): Promise<sandboxWire.WaitSandboxResponse> {
    this.check(id);
    const exit = await this.tasks.podExited();
    return { exitStatus: exit.status, exitedAt: timestamp(exit.at) };
  }

  private status(id: string, verbose: boolean): sandboxWire.SandboxStatusResponse {
    this.check(id);
    const pod = this.tasks.podState();
    return {
      sandboxId: id,
      pid: pod.pid,
      state: pod.running ? SANDBOX_READY : SANDBOX_NOTREADY,
      info: verbose ? { vmPid: String(pod.pid), containers: String(pod.containers) } : {},
      createdAt: this.createdAt ? timestamp(this.createdAt) : undefined,
      exitedAt: pod.exit ? timestamp(pod.exit.at) : undefined,
      extra: undefined,
    };
  }

  /** The pod's metrics: its host cgroup's (the VM, as kubelet counts it), as that hierarchy's metrics; no data when it has none. */
  private metrics(id: string): sandboxWire.SandboxMetricsResponse {
    this.check(id);
    const m = this.tasks.podMetrics();
    const data = !m
      ? undefined
      : m.version === 2
        ? { typeUrl: 'io.containerd.cgroups.v2.Metrics', value: Buffer.from(cgroupsV2Wire.Metrics.encode(m.metrics).finish()) }
        : { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: Buffer.from(cgroupsV1Wire.Metrics.encode(m.metrics).finish()) };
    return { metrics: { timestamp: timestamp(), id, data: data ? anyWire.Any.fromPartial(data) : undefined } };
  }
}
