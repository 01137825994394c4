import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_CONTAINERS_DIR, invalidArgument, MayuError, type StorageSpec } from '@mayu/protocol';
import { propagationOf } from './guest-spec.js';
import { ensureMountpoints, type Mountpoint } from '../storage/mountpoints.js';
import type { ShareArea, SharedTree } from '../storage/shared-tree.js';
import type { WritableLayers } from '../storage/writable-layers.js';

/** Container ids become one path component on the host: nothing else is accepted. */
const CONTAINER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Where a container's root filesystem comes from. */
export type ContainerRootfs =
  /** The container's own root filesystem (containerd's bundle rootfs): shared as it is. */
  | { kind: 'shared-fs'; path: string }
  /**
   * A read-only image (the image cache, or a rootfs directory given to mayu
   * run): shared under a writable layer of the container's own on the host,
   * or read-only when the spec says root.readonly.
   */
  | { kind: 'image'; path: string }
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
  /** Undoes the host side (mounts, writable layer); idempotent. */
  release(): Promise<void>;
}

export interface ContainerShares {
  tree: SharedTree;
  /** Per-container writable layers for `image` root filesystems. */
  layers: WritableLayers;
  /** Where read-write volumes go: `mapped` (guest attributes never real on the host) when the tree has it. */
  writableVolumes: ShareArea;
}

function isBind(m: { type?: string; options?: string[] }): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/**
 * Turns a spec written with host paths into one for the guest. The rootfs
 * and every bind mount (volume) are made visible through the sandbox's
 * shared tree (or the rootfs disk), their paths rewritten; namespace paths
 * (host paths, e.g. a pod's network namespace) are dropped, since the VM is
 * the boundary. The host never takes a path from the guest, and makes every
 * mount in a directory the guest cannot reach. On failure nothing is left.
 */
export async function prepareContainer(o: { id: string; spec: unknown; rootfs: ContainerRootfs; shares: ContainerShares | null }): Promise<PreparedContainer> {
  if (o.spec === null || typeof o.spec !== 'object' || Array.isArray(o.spec)) throw invalidArgument('/', o.spec, 'an OCI spec must be a JSON object');
  if (!CONTAINER_ID_PATTERN.test(o.id)) throw invalidArgument('container id', o.id, 'must be 1-128 letters, digits, "_", "." or "-", not starting with a symbol');
  const spec: SpecShape = structuredClone(o.spec) as SpecShape;
  const undo: (() => Promise<void>)[] = [];
  const release = async (): Promise<void> => {
    for (const u of undo.splice(0).reverse()) await u();
  };
  const shares = (what: string): ContainerShares => {
    if (!o.shares) throw new MayuError('ERR_INVALID_ARGUMENT', `container ${o.id}: ${what} needs a shared filesystem (shared_fs is "none")`);
    return o.shares;
  };
  const readOnlyRoot = spec.root?.readonly === true;
  try {
    const storages: StorageSpec[] = [];
    if (o.rootfs.kind === 'disk') {
      const dir = `${GUEST_CONTAINERS_DIR}/${o.id}`;
      spec.root = { ...spec.root, path: `${dir}/rootfs` };
      storages.push(...diskRootfsStorages(dir, o.rootfs.serial));
    } else {
      const s = shares('a shared-fs rootfs');
      const rel = `${o.id}/rootfs`;
      const source = o.rootfs.path;
      const bindRoot = async (from: string): Promise<void> => {
        const target = await s.tree.bind(from, 'shared', rel, { readOnly: readOnlyRoot }).catch((err: unknown) => {
          throw renamed(err, '/root/path', source);
        });
        undo.push(() => s.tree.release(target));
      };
      if (o.rootfs.kind === 'image') {
        // The image is never written: the container gets a layer of its own.
        // A read-only one is staged aside first, so that its mount points can
        // be made in that layer before the guest sees it, read-only.
        const staged = readOnlyRoot ? join(s.tree.stateDir, 'staging', o.id) : s.tree.hostPath('shared', rel);
        await s.layers.add(o.id, source, staged);
        undo.push(() => s.layers.remove(o.id, staged));
        if (readOnlyRoot) {
          ensureMountpoints(staged, mountpointsOf(spec));
          await bindRoot(staged);
        } else {
          await s.tree.restrictCopy('shared', rel, false);
        }
      } else {
        // The container's own rootfs (containerd's snapshot), not yet seen by the guest.
        if (readOnlyRoot && existsSync(source)) ensureMountpoints(source, mountpointsOf(spec));
        await bindRoot(source);
      }
      spec.root = { ...spec.root, path: s.tree.guestPath('shared', rel) };
    }
    for (const [i, m] of (spec.mounts ?? []).entries()) {
      if (!isBind(m)) continue;
      const s = shares('a bind mount (volume)');
      const readOnly = (m.options ?? []).includes('ro');
      const area: ShareArea = readOnly ? 'shared' : s.writableVolumes;
      if (!m.source) throw invalidArgument(`/mounts/${i}/source`, m.source, 'a bind mount needs a source');
      const source = m.source;
      const propagation = propagationOf(m.options ?? [], i);
      const recursive = (m.options ?? []).includes('rbind');
      const target = await s.tree.bind(source, area, `${o.id}/volumes/${i}`, { readOnly, recursive, propagation }).catch((err: unknown) => {
        throw renamed(err, `/mounts/${i}/source`, source);
      });
      undo.push(() => s.tree.release(target));
      m.source = s.tree.guestPath(area, `${o.id}/volumes/${i}`);
    }
    if (spec.linux?.namespaces) spec.linux.namespaces = spec.linux.namespaces.map((ns) => ({ type: ns.type }));
    return { spec, storages, release };
  } catch (err) {
    await release();
    throw err;
  }
}

/** The mount points a spec's mounts need in its rootfs (bind mounts of files need files). */
function mountpointsOf(spec: SpecShape): Mountpoint[] {
  return (spec.mounts ?? []).flatMap((m) => {
    if (!m.destination?.startsWith('/')) return [];
    let file = false;
    try {
      file = isBind(m) && !!m.source && statSync(m.source).isFile();
    } catch {
      // a missing source is reported when it is bound
    }
    return [{ destination: m.destination, file }];
  });
}

/** An invalid-argument error from the host side, renamed after the spec field that caused it. */
function renamed(err: unknown, field: string, value: string): unknown {
  if (!(err instanceof MayuError) || err.code !== 'ERR_INVALID_ARGUMENT' || typeof err.details.problem !== 'string') return err;
  return invalidArgument(field, value, err.details.problem);
}

/** A read-only erofs disk under a writable overlay, both inside the guest. */
function diskRootfsStorages(dir: string, serial: string): StorageSpec[] {
  return [
    { driver: 'blk', source: serial, fstype: 'erofs', options: ['ro'], mountPoint: `${dir}/lower` },
    { driver: 'overlay', source: 'overlay', fstype: 'overlay', options: [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`], mountPoint: `${dir}/rootfs` },
  ];
}
