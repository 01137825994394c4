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
  sandbox: boolean;
  agentChannel: 'auto' | 'vsock' | 'serial';
  enableDebug: boolean;
  sharedFs: 'virtio-9p' | 'virtio-fs' | 'none';
  virtioFsDaemon: string;
  virtioFsExtraArgs: string[];
  containerRootfs: 'shared-fs' | 'block';
}

export interface RuntimeConfig {
  hypervisor: { kind: 'qemu'; qemu: QemuConfig };
  agent: { dialTimeoutMs: number; callTimeoutMs: number };
  runtime: { stateDir: string; guestImageDir: string; stopTimeoutMs: number };
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
      sandbox: boolean;
      agent_channel: QemuConfig['agentChannel'];
      enable_debug: boolean;
      shared_fs: QemuConfig['sharedFs'];
      virtio_fs_daemon: string;
      virtio_fs_extra_args: string[];
      container_rootfs: QemuConfig['containerRootfs'];
    };
  };
  agent: { dial_timeout: number; call_timeout: number };
  runtime: { state_dir: string; guest_image_dir: string; stop_timeout: number };
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
        sandbox: q.sandbox,
        agentChannel: q.agent_channel,
        enableDebug: q.enable_debug,
        sharedFs: q.shared_fs,
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
    },
    source,
  };
}
