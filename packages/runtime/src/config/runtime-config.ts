/** The runtime's configuration after validation, in mayu's own names. */

export type HypervisorKind = 'qemu' | 'clh';
export type SharedFsKind = 'virtio-9p' | 'virtio-fs' | 'none';

/** What every sandbox gets, whatever its hypervisor ([sandbox]). */
export interface SandboxConfig {
  hypervisor: HypervisorKind;
  defaultVcpus: number;
  defaultMemoryMib: number;
  /** The most vCPUs and MiB a sandbox may get, whatever its containers ask for. */
  maxVcpus: number;
  maxMemoryMib: number;
  /** Who may size a VM by io.mayu.vcpus / io.mayu.memory_mib (see configuration.toml). */
  sizeAnnotations: 'standalone' | 'always' | 'never';
  /** The built guest image; empty: looked for (see guestImageCandidates). */
  guestImageDir: string;
  /** Guest kernel; empty: from the guest image. */
  kernel: string;
  rootfs: 'image' | 'initrd';
  image: string;
  initrd: string;
  kernelParams: string;
  enableDebug: boolean;
  agentChannel: 'auto' | 'vsock' | 'serial';
  /** "auto": the hypervisor's first supported kind (9p for QEMU, virtio-fs with a daemon for CLH). */
  sharedFs: 'auto' | SharedFsKind;
  /** How read-write volumes are shared over 9p (see configuration.toml). */
  volumeAttributes: 'mapped' | 'host';
  virtioFsDaemon: string;
  virtioFsExtraArgs: string[];
  containerRootfs: 'shared-fs' | 'block';
  /** MiB of host memory for the writable layers of image root filesystems. */
  containerLayerMib: number;
}

/** [hypervisor.qemu]: what only QEMU has. */
export interface QemuConfig {
  /** The QEMU binary (name on PATH or absolute path). */
  path: string;
  /** "auto": microvm, or q35 for a VM that may have to grow its memory (VmSpec.maxMemoryMib). */
  machineType: 'auto' | 'microvm' | 'q35';
  accel: 'auto' | 'kvm' | 'tcg';
  /** MiB of TCG translation buffer (-accel tcg,tb-size=); 0 leaves QEMU's default (1 GiB, resident as it fills). */
  tcgTbSizeMib: number;
  sandbox: boolean;
  /** "auto", "root" or "UID:GID" (see configuration.toml). */
  runAs: string;
}

/** [hypervisor.clh]: what only Cloud Hypervisor has. */
export interface ClhConfig {
  path: string;
  /** cloud-hypervisor --seccomp: "true", "false" or "log". */
  seccomp: 'true' | 'false' | 'log';
  runAs: string;
  /** How long one REST API call may take. */
  apiTimeoutMs: number;
}

export interface RuntimeConfig {
  sandbox: SandboxConfig;
  hypervisor: { qemu: QemuConfig; clh: ClhConfig };
  agent: {
    dialTimeoutMs: number;
    callTimeoutMs: number;
    /** How often a running sandbox's agent is asked Check (0: never). */
    healthIntervalMs: number;
    /** How long one such Check may take. */
    healthTimeoutMs: number;
  };
  runtime: {
    stateDir: string;
    stopTimeoutMs: number;
    /** What to do with host security labels in a spec (see configuration.toml). */
    lsmLabels: 'refuse' | 'drop';
    /** What to do with a spec asking for host namespaces (see configuration.toml). */
    hostNamespaces: 'refuse' | 'vm';
    /** Host memory a VM's start must leave free, in MiB (0: no admission check; see configuration.toml). */
    hostMemoryReserveMib: number;
  };
  /** VM templates (see configuration.toml [factory]). */
  factory: { template: boolean; templateDir: string; maxTemplates: number };
  /** Where the configuration came from (a path, or "defaults"). */
  source: string;
  /** Deprecated keys that were used (each names its new key). */
  warnings: string[];
}

/** The raw, validated TOML document (keys as in configuration.toml). */
export interface RawConfig {
  sandbox: {
    hypervisor: HypervisorKind;
    default_vcpus: number;
    default_memory: number;
    max_vcpus: number;
    max_memory: number;
    size_annotations: SandboxConfig['sizeAnnotations'];
    guest_image_dir: string;
    kernel: string;
    rootfs: SandboxConfig['rootfs'];
    image: string;
    initrd: string;
    kernel_params: string;
    enable_debug: boolean;
    agent_channel: SandboxConfig['agentChannel'];
    shared_fs: SandboxConfig['sharedFs'];
    volume_attributes: SandboxConfig['volumeAttributes'];
    virtio_fs_daemon: string;
    virtio_fs_extra_args: string[];
    container_rootfs: SandboxConfig['containerRootfs'];
    container_layer_size: number;
  };
  hypervisor: {
    qemu: { path: string; machine_type: QemuConfig['machineType']; accel: QemuConfig['accel']; tcg_tb_size: number; sandbox: boolean; run_as: string };
    clh: { path: string; seccomp: ClhConfig['seccomp']; run_as: string; api_timeout: number };
  };
  agent: { dial_timeout: number; call_timeout: number; health_interval: number; health_timeout: number };
  runtime: { state_dir: string; stop_timeout: number; lsm_labels: 'refuse' | 'drop'; host_namespaces: 'refuse' | 'vm'; host_memory_reserve: number };
  factory: { template: boolean; template_dir: string; max_templates: number };
}

export function configFromRaw(raw: RawConfig, source: string, warnings: string[] = []): RuntimeConfig {
  const s = raw.sandbox;
  const q = raw.hypervisor.qemu;
  const c = raw.hypervisor.clh;
  return {
    sandbox: {
      hypervisor: s.hypervisor,
      defaultVcpus: s.default_vcpus,
      defaultMemoryMib: s.default_memory,
      maxVcpus: s.max_vcpus,
      maxMemoryMib: s.max_memory,
      sizeAnnotations: s.size_annotations,
      guestImageDir: s.guest_image_dir,
      kernel: s.kernel,
      rootfs: s.rootfs,
      image: s.image,
      initrd: s.initrd,
      kernelParams: s.kernel_params,
      enableDebug: s.enable_debug,
      agentChannel: s.agent_channel,
      sharedFs: s.shared_fs,
      volumeAttributes: s.volume_attributes,
      virtioFsDaemon: s.virtio_fs_daemon,
      virtioFsExtraArgs: [...s.virtio_fs_extra_args],
      containerRootfs: s.container_rootfs,
      containerLayerMib: s.container_layer_size,
    },
    hypervisor: {
      qemu: { path: q.path, machineType: q.machine_type, accel: q.accel, tcgTbSizeMib: q.tcg_tb_size, sandbox: q.sandbox, runAs: q.run_as },
      clh: { path: c.path, seccomp: c.seccomp, runAs: c.run_as, apiTimeoutMs: c.api_timeout * 1000 },
    },
    agent: {
      dialTimeoutMs: raw.agent.dial_timeout * 1000,
      callTimeoutMs: raw.agent.call_timeout * 1000,
      healthIntervalMs: raw.agent.health_interval * 1000,
      healthTimeoutMs: raw.agent.health_timeout * 1000,
    },
    runtime: {
      stateDir: raw.runtime.state_dir,
      stopTimeoutMs: raw.runtime.stop_timeout * 1000,
      lsmLabels: raw.runtime.lsm_labels,
      hostNamespaces: raw.runtime.host_namespaces,
      hostMemoryReserveMib: raw.runtime.host_memory_reserve,
    },
    factory: { template: raw.factory.template, templateDir: raw.factory.template_dir, maxTemplates: raw.factory.max_templates },
    source,
    warnings,
  };
}
