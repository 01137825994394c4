import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MayuError, SHARE_TAGS, type ShareArea } from '@mayu/protocol';
import type { RuntimeConfig, SharedFsKind } from '../config/runtime-config.js';
import type { GuestImage } from '../host/guest-image.js';
import type { AgentChannel, HypervisorCapabilities, VmSpec } from '../hypervisor/hypervisor.js';
import { SharedTree } from '../storage/shared-tree.js';
import { WritableLayers } from '../storage/writable-layers.js';
import type { ContainerShares } from './container-setup.js';

/** What a sandbox asks of any backend: chosen from the configuration and the backend's capabilities. */
export interface VmPlan {
  spec: VmSpec;
  sharedFs: SharedFsKind;
  shares: ContainerShares | null;
}

function notOffered(key: string, value: string, backend: string, offered: readonly string[]): MayuError {
  return new MayuError('ERR_CONFIG_INVALID', `${key}: hypervisor ${backend} has no ${JSON.stringify(value)} (it offers: ${offered.join(', ') || 'nothing'})`, {
    details: { key, value, backend },
  });
}

/** The agent channel: the configured one if the backend offers it, or its first for "auto". */
export function chooseAgentChannel(wanted: 'auto' | AgentChannel, caps: HypervisorCapabilities, backend: string): AgentChannel {
  const channel = wanted === 'auto' ? caps.agentChannels[0] : wanted;
  if (!channel || !caps.agentChannels.includes(channel)) throw notOffered('sandbox.agent_channel', wanted, backend, caps.agentChannels);
  return channel;
}

/**
 * The shared filesystem: the configured one if the backend offers it; for
 * "auto" its first usable one (virtio-fs is usable only with a daemon
 * configured), else none.
 */
export function chooseSharedFs(config: RuntimeConfig, caps: HypervisorCapabilities, backend: string): SharedFsKind {
  const wanted = config.sandbox.sharedFs;
  if (wanted === 'none') return 'none';
  if (wanted !== 'auto') {
    if (!caps.sharedFs.includes(wanted)) throw notOffered('sandbox.shared_fs', wanted, backend, caps.sharedFs);
    return wanted;
  }
  return caps.sharedFs.find((k) => k !== 'virtio-fs' || config.sandbox.virtioFsDaemon !== '') ?? 'none';
}

/**
 * The sandbox's shared tree: with 9p, a `shared` area (root filesystems,
 * read-only volumes) and a `mapped` one (read-write volumes: what the guest
 * sets there never becomes real on the host), when the backend can map
 * attributes and volume_attributes says "mapped"; virtio-fs has one daemon
 * and one area. Nothing is mounted until the sandbox starts.
 */
function planShares(stateDir: string, config: RuntimeConfig, kind: SharedFsKind, caps: HypervisorCapabilities): ContainerShares | null {
  if (kind === 'none') return null;
  const mapped = kind === 'virtio-9p' && caps.mappedAttributes && config.sandbox.volumeAttributes === 'mapped';
  const areas: ShareArea[] = mapped ? ['shared', 'mapped'] : ['shared'];
  return {
    tree: SharedTree.plan(stateDir, areas),
    layers: new WritableLayers(join(stateDir, 'scratch'), config.sandbox.containerLayerMib),
    writableVolumes: mapped ? 'mapped' : 'shared',
  };
}

/**
 * Plans a sandbox's VM from the configuration, the guest image and what the
 * backend can do. Checks the files it names exist (ERR_GUEST_IMAGE naming
 * the key) before anything runs.
 */
export function planVm(o: {
  id: string;
  stateDir: string;
  config: RuntimeConfig;
  image: GuestImage;
  caps: HypervisorCapabilities;
  backend: string;
  vcpus?: number;
  memoryMib?: number;
  /** The VM may have to grow its memory after boot (see SandboxOptions.growMemory). */
  growMemory?: boolean;
  kernelParams?: string;
  dieWithParent?: boolean;
}): VmPlan {
  const s = o.config.sandbox;
  const sharedFs = chooseSharedFs(o.config, o.caps, o.backend);
  const shares = planShares(o.stateDir, o.config, sharedFs, o.caps);
  const spec: VmSpec = {
    id: o.id,
    stateDir: o.stateDir,
    vcpus: o.vcpus ?? s.defaultVcpus,
    memoryMib: o.memoryMib ?? s.defaultMemoryMib,
    // Room to grow up to the configured maximum where the backend can grow (max = default: none); memory only where it may be needed.
    ...(o.caps.grow.vcpus ? { maxVcpus: Math.max(s.maxVcpus, o.vcpus ?? s.defaultVcpus) } : {}),
    ...(o.caps.grow.memory && o.growMemory ? { maxMemoryMib: Math.max(s.maxMemoryMib, o.memoryMib ?? s.defaultMemoryMib) } : {}),
    kernel: s.kernel || o.image.kernel,
    rootfs: s.rootfs === 'image' ? { kind: 'image', path: s.image || o.image.image, fsType: o.image.manifest.rootfsImageType } : { kind: 'initrd', path: s.initrd || o.image.initrd },
    agentChannel: chooseAgentChannel(s.agentChannel, o.caps, o.backend),
    kernelParams: [s.kernelParams, o.kernelParams ?? ''].join(' ').trim(),
    debug: s.enableDebug,
    disks: [],
    dieWithParent: o.dieWithParent ?? true,
    sharedDirs:
      shares?.tree.areas.map((area) => ({
        id: area,
        path: shares.tree.exportDir(area),
        tag: SHARE_TAGS[area],
        kind: sharedFs as 'virtio-9p' | 'virtio-fs',
        attributes: area === 'mapped' ? 'mapped' : 'host',
      })) ?? [],
  };
  for (const [key, path] of [
    ['kernel', spec.kernel],
    [s.rootfs, spec.rootfs.path],
  ] as const) {
    if (!existsSync(path)) throw new MayuError('ERR_GUEST_IMAGE', `sandbox.${key}: ${path} does not exist`, { details: { key, path } });
  }
  return { spec, sharedFs, shares };
}
