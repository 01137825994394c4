import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, MayuError, type StorageSpec } from '@mayu/protocol';
import { bindMount, unmount } from '../storage/host-mounts.js';

/** Where the sandbox's shared directory is mounted in the guest, and its tag. */
export const GUEST_SHARED_DIR = '/run/mayu/shared';
export const SHARED_TAG = 'mayushared';
/** The agent's per-container directory in the guest. */
export const GUEST_CONTAINERS_DIR = '/run/mayu/containers';

/** Where a container's root filesystem comes from. */
export type ContainerRootfs =
  /** A host directory, bind-mounted into the sandbox's shared directory. */
  | { kind: 'shared-fs'; path: string }
  /** A read-only disk (attached at boot, found by serial) with a tmpfs overlay on top in the guest. */
  | { kind: 'disk'; serial: string };

interface SpecShape {
  root?: { path?: string; readonly?: boolean };
  mounts?: { destination?: string; type?: string; source?: string; options?: string[] }[];
  linux?: { namespaces?: { type?: string; path?: string }[]; [k: string]: unknown };
  [k: string]: unknown;
}

export interface PreparedContainer {
  /** The spec with guest paths. */
  spec: SpecShape;
  storages: StorageSpec[];
  /** Host bind mounts made for it (undone on removal). */
  hostMounts: string[];
}

function isBind(m: { type?: string; options?: string[] }): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/**
 * Turns a spec written with host paths into one for the guest: the rootfs
 * and every bind mount (volume) are made visible through the shared
 * directory (or the rootfs disk), their paths rewritten; namespace paths
 * (host paths, e.g. a pod's network namespace) are dropped, since the VM is
 * the boundary. The host never takes a path from the guest.
 */
export async function prepareContainer(o: {
  id: string;
  spec: unknown;
  rootfs: ContainerRootfs;
  /** The sandbox's shared directory on the host, or null without a shared filesystem. */
  sharedDir: string | null;
}): Promise<PreparedContainer> {
  if (o.spec === null || typeof o.spec !== 'object' || Array.isArray(o.spec)) throw invalidArgument('/', o.spec, 'an OCI spec must be a JSON object');
  const spec: SpecShape = structuredClone(o.spec) as SpecShape;
  const hostMounts: string[] = [];
  const storages: StorageSpec[] = [];
  const share = (name: string): { host: string; guest: string } => {
    if (!o.sharedDir) throw new MayuError('ERR_INVALID_ARGUMENT', `container ${o.id}: ${name} needs a shared filesystem (shared_fs is "none")`);
    return { host: join(o.sharedDir, o.id, name), guest: `${GUEST_SHARED_DIR}/${o.id}/${name}` };
  };
  try {
    if (o.rootfs.kind === 'shared-fs') {
      if (!existsSync(o.rootfs.path) || !statSync(o.rootfs.path).isDirectory()) throw invalidArgument('rootfs', o.rootfs.path, 'is not a directory');
      const target = share('rootfs');
      await bindMount(o.rootfs.path, target.host, false);
      hostMounts.push(target.host);
      spec.root = { ...spec.root, path: target.guest };
    } else {
      const dir = `${GUEST_CONTAINERS_DIR}/${o.id}`;
      storages.push(
        { driver: 'blk', source: o.rootfs.serial, fstype: 'erofs', options: ['ro'], mountPoint: `${dir}/lower` },
        { driver: 'overlay', source: 'overlay', fstype: 'overlay', options: [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`], mountPoint: `${dir}/rootfs` },
      );
      spec.root = { ...spec.root, path: `${dir}/rootfs` };
    }
    for (const [i, m] of (spec.mounts ?? []).entries()) {
      if (!isBind(m)) continue;
      if (!m.source || !existsSync(m.source)) throw invalidArgument(`/mounts/${i}/source`, m.source, 'does not exist on the host');
      const target = share(`volumes/${i}`);
      await bindMount(m.source, target.host, (m.options ?? []).includes('ro'));
      hostMounts.push(target.host);
      m.source = target.guest;
    }
    if (spec.linux?.namespaces) spec.linux.namespaces = spec.linux.namespaces.map((ns) => ({ type: ns.type }));
    return { spec, storages, hostMounts };
  } catch (err) {
    await releaseContainerMounts(hostMounts);
    throw err;
  }
}

export async function releaseContainerMounts(hostMounts: string[]): Promise<void> {
  for (const m of hostMounts.splice(0).reverse()) await unmount(m);
}
