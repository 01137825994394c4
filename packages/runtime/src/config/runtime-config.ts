/** The runtime's configuration after validation, in mayu's own names. */
export interface QemuConfig {
  /** The QEMU binary (name on PATH or absolute path). */
  path: string;
  machineType: 'microvm' | 'q35';
  accel: 'auto' | 'kvm' | 'tcg';
  /** Guest kernel; empty: from the guest image. */
  kernel: string;
  rootfs: 'image' | 'initrd';
  image: string;
  initrd: string;
  kernelParams: string;
  defaultVcpus: number;
  defaultMemoryMib: number;
  /** The most vCPUs and MiB a sandbox may get, whatever its containers ask for. */
  maxVcpus: number;
  maxMemoryMib: number;
  sandbox: boolean;
  /** "auto", "root" or "UID:GID" (see qemu.toml). */
  runAs: string;
  agentChannel: 'auto' | 'vsock' | 'serial';
  enableDebug: boolean;
  sharedFs: 'virtio-9p' | 'virtio-fs' | 'none';
  /** How read-write volumes are shared over 9p (see qemu.toml). */
  volumeAttributes: 'mapped' | 'host';
  virtioFsDaemon: string;
  virtioFsExtraArgs: string[];
  containerRootfs: 'shared-fs' | 'block';
}

export interface RuntimeConfig {
  hypervisor: { kind: 'qemu'; qemu: QemuConfig };
  agent: { dialTimeoutMs: number; callTimeoutMs: number };
  runtime: {
    stateDir: string;
    guestImageDir: string;
    stopTimeoutMs: number;
    containerLayerMib: number;
    /** What to do with host security labels in a spec (see qemu.toml). */
    lsmLabels: 'refuse' | 'drop';
  };
  /** Where the configuration came from (a path, or "defaults"). */
  source: string;
}

/** The raw, validated TOML document (keys as in qemu.toml). */
export interface RawConfig {
  hypervisor: {
    qemu: {
      path: string;
      machine_type: QemuConfig['machineType'];
      accel: QemuConfig['accel'];
      kernel: string;
      rootfs: QemuConfig['rootfs'];
      image: string;
      initrd: string;
      kernel_params: string;
      default_vcpus: number;
      default_memory: number;
      max_vcpus: number;
      max_memory: number;
      sandbox: boolean;
      run_as: string;
      agent_channel: QemuConfig['agentChannel'];
      enable_debug: boolean;
      shared_fs: QemuConfig['sharedFs'];
      volume_attributes: QemuConfig['volumeAttributes'];
      virtio_fs_daemon: string;
      virtio_fs_extra_args: string[];
      container_rootfs: QemuConfig['containerRootfs'];
    };
  };
  agent: { dial_timeout: number; call_timeout: number };
  runtime: { state_dir: string; guest_image_dir: string; stop_timeout: number; container_layer_size: number; lsm_labels: 'refuse' | 'drop' };
}

export function configFromRaw(raw: RawConfig, source: string): RuntimeConfig {
  const q = raw.hypervisor.qemu;
  return {
    hypervisor: {
      kind: 'qemu',
      qemu: {
        path: q.path,
        machineType: q.machine_type,
        accel: q.accel,
        kernel: q.kernel,
        rootfs: q.rootfs,
        image: q.image,
        initrd: q.initrd,
        kernelParams: q.kernel_params,
        defaultVcpus: q.default_vcpus,
        defaultMemoryMib: q.default_memory,
        maxVcpus: q.max_vcpus,
        maxMemoryMib: q.max_memory,
        sandbox: q.sandbox,
        runAs: q.run_as,
        agentChannel: q.agent_channel,
        enableDebug: q.enable_debug,
        sharedFs: q.shared_fs,
        volumeAttributes: q.volume_attributes,
        virtioFsDaemon: q.virtio_fs_daemon,
        virtioFsExtraArgs: [...q.virtio_fs_extra_args],
        containerRootfs: q.container_rootfs,
      },
    },
    agent: { dialTimeoutMs: raw.agent.dial_timeout * 1000, callTimeoutMs: raw.agent.call_timeout * 1000 },
    runtime: {
      stateDir: raw.runtime.state_dir,
      guestImageDir: raw.runtime.guest_image_dir,
      stopTimeoutMs: raw.runtime.stop_timeout * 1000,
      containerLayerMib: raw.runtime.container_layer_size,
      lsmLabels: raw.runtime.lsm_labels,
    },
    source,
  };
}
