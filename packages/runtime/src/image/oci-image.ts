import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, MayuError } from '@mayu/protocol';
import { ByteBudget } from './byte-budget.js';
import { emptyConfig, type ImageConfig } from './image-config.js';
import { cachedImage, cacheRoot, removeTree } from './image-cache.js';
import { extractOciArchive } from './oci-archive.js';
import { pickManifest, readImageConfig, readIndex, readManifest } from './oci-layout.js';
import { RootfsWriter } from './rootfs-writer.js';
import { unpackLayer } from './unpack-layer.js';
import { DEFAULT_UNPACK_LIMITS, type UnpackLimits } from './unpack-limits.js';

export type { ImageConfig } from './image-config.js';
export { imageCacheDir } from './image-cache.js';

/** A root filesystem ready to run, and the image's run defaults. */
export interface ResolvedImage {
  /**
   * The root filesystem. For an OCI image, the shared cache entry: never
   * write into it (put a per-run overlay on top).
   */
  rootfs: string;
  config: ImageConfig;
  /** Manifest digest (OCI images) or null (a plain directory). */
  digest: string | null;
  /** Device nodes and FIFOs in the image's layers that were not unpacked (0 for a directory). */
  droppedEntries: number;
  /** Removes anything made only for this run. */
  release(): void;
}

export interface UnpackOptions {
  /** Bounds on the unpack (default DEFAULT_UNPACK_LIMITS: 1,000,000 entries a layer, 64 GiB). */
  limits?: Partial<UnpackLimits>;
}

/**
 * Unpacks an OCI image layout into the image cache, once per manifest
 * digest. Every blob read is checked against its digest; layers are
 * extracted beneath the rootfs only (see rootfs-writer.ts), into a private
 * directory that becomes the cache entry in one rename.
 */
export async function unpackOciLayout(layout: string, options: UnpackOptions = {}): Promise<ResolvedImage> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options.limits };
  const manifestDesc = pickManifest(layout, readIndex(layout));
  const manifest = readManifest(layout, manifestDesc);
  const config = readImageConfig(layout, manifest.config);
  const entry = await cachedImage(manifestDesc.digest, async (rootfs) => {
    const writer = new RootfsWriter(rootfs, limits);
    const budget = new ByteBudget(limits.maxUnpackedBytes);
    for (const layer of manifest.layers) await unpackLayer(writer, layout, layer, budget);
    writer.finish();
    return { droppedEntries: writer.dropped };
  });
  return { rootfs: entry.rootfs, config, digest: manifestDesc.digest, droppedEntries: entry.droppedEntries, release: () => {} };
}

/** An OCI archive, read into a private temporary layout that is removed after the unpack. */
async function unpackOciArchive(ref: string, options: UnpackOptions): Promise<ResolvedImage> {
  const layout = mkdtempSync(join(cacheRoot(), '.archive-'));
  try {
    try {
      await extractOciArchive(ref, layout, { ...DEFAULT_UNPACK_LIMITS, ...options.limits });
      if (!existsSync(join(layout, 'index.json'))) throw new Error('it has no index.json');
    } catch (err) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `IMAGE: ${JSON.stringify(ref)} is not an OCI archive (${(err as Error).message})`, {
        cause: err,
        details: { field: 'IMAGE', value: ref },
      });
    }
    return await unpackOciLayout(layout, options);
  } finally {
    removeTree(layout);
  }
}

/**
 * IMAGE for mayu run: an OCI image layout directory (it has `oci-layout`),
 * an OCI archive (a tar of such a layout), or a plain root filesystem directory.
 */
export async function resolveImage(ref: string, options: UnpackOptions = {}): Promise<ResolvedImage> {
  if (!existsSync(ref)) throw invalidArgument('IMAGE', ref, 'does not exist');
  if (!statSync(ref).isDirectory()) return unpackOciArchive(ref, options);
  if (existsSync(join(ref, 'oci-layout')) && existsSync(join(ref, 'index.json'))) return unpackOciLayout(ref, options);
  if (!existsSync(join(ref, 'bin')) && !existsSync(join(ref, 'usr'))) {
    throw invalidArgument('IMAGE', ref, 'is neither an OCI image layout (oci-layout, index.json) nor a root filesystem (bin/ or usr/)');
  }
  return { rootfs: ref, config: emptyConfig(), digest: null, droppedEntries: 0, release: () => {} };
}
