/**
 * @mayu/runtime: the host side. Configuration, host checks, hypervisor
 * drivers, the agent client, and the sandbox lifecycle.
 */
export * from './config/runtime-config.js';
export { loadConfig, parseConfig, CONFIG_SCHEMA_PATH } from './config/load-config.js';
export { MOVED_KEYS } from './config/deprecated-keys.js';
export * from './host/accel.js';
export { hostTscKhz, readCpuInfo } from './host/cpu-info.js';
export * from './host/guest-image.js';
export * from './host/host-check.js';
export { hostHasVhostVsock } from './host/vhost-vsock.js';
export { cgroupDirOf, joinPodCgroup, leaveStartingCgroup, limitCgroupMemory, memberships as cgroupMemberships, removeCgroupDirs, type PodCgroupPlacement } from './host/cgroups.js';
export { hostCgroupMetrics, type HostCgroupMetrics } from './host/cgroup-metrics.js';
export type * from './hypervisor/hypervisor.js';
export { QemuHypervisor } from './hypervisor/qemu/qemu-hypervisor.js';
export { QmpClient, type QmpEvent } from './hypervisor/qemu/qmp-client.js';
export { AgentClient } from './agent/agent-client.js';
export { createDialer, registerDialer, type AgentDialer } from './agent/dialers.js';
export { Sandbox, type BootReport, type SandboxOptions } from './sandbox/sandbox.js';
export { registerHypervisor, hypervisorFactory, registeredHypervisors } from './hypervisor/backends.js';
export { specForGuest, podSharedNamespaces } from './sandbox/guest-spec.js';
export { resolveHostNamespaces, CRIO_HOST_NETWORK, CRIO_NAMESPACE_OPTIONS, type HostNamespaceAsk } from './sandbox/host-namespaces.js';
export { HOST_NAMESPACE_TYPES, isHostNamespace, namespaceIdentity, type HostNamespaceType } from './host/namespaces.js';
export type { BootTimings } from './sandbox/boot-timings.js';
export { removeSandbox, listSandboxes } from './sandbox/sandbox-records.js';
export * from './sandbox/state-dir.js';
export { processCmdline, processExists, processStartTime, terminate } from './util/process.js';
export { withSystemPath } from './util/on-path.js';
export { removeDirSafely, mountsUnder } from './storage/host-mounts.js';
export { buildRootfsImage } from './storage/rootfs-image.js';
export { resolveImage, unpackOciLayout, imageCacheDir, type ImageConfig, type ResolvedImage } from './image/oci-image.js';
export { defaultSpec, resolveUser, mergeEnv, DEFAULT_CAPABILITIES, type RunOptions } from './oci/default-spec.js';
export { defaultSeccomp, type LinuxSeccomp } from './oci/default-seccomp.js';
export { type ContainerRootfs } from './sandbox/container-setup.js';
export type { SandboxContainerOptions } from './sandbox/sandbox.js';
export { NO_DEADLINE } from './agent/agent-client.js';
export { pumpInput, pumpOutput, writableSink, type OutputSink } from './agent/process-stdio.js';
export { CappedFile } from './util/capped-file.js';
export {
  vmSizeFromSpec,
  containerLimits,
  podVmSize,
  mayGrowMemory,
  podHasMemoryLimit,
  vmmMemoryBoundMib,
  VCPUS_ANNOTATION,
  MEMORY_ANNOTATION,
  type VmSize,
  type ContainerLimits,
} from './sandbox/vm-size.js';
export { parseRunNetwork, resolveRunNetwork, setUpRunNetwork, tearDownRunNetwork, type RunNetwork, type RunNetworkRecord } from './network/run-network.js';
export { scanPodNetwork, type PodNetwork } from './network/scan.js';
export { TemplateStore, type Template, type TemplateManifest } from './factory/template-store.js';
export { VmFactory, templateIneligibility, templateKey } from './factory/vm-factory.js';
export { listTemplates, type TemplateInfo } from './factory/template-status.js';
