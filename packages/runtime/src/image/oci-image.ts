import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { invalidArgument, MayuError } from '@mayu/protocol';
import { applyLayer } from './unpack-layer.js';

/** The parts of an OCI image config that decide how a container runs. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

/** A root filesystem ready to run, and the image's run defaults. */
export interface ResolvedImage {
  rootfs: string;
  config: ImageConfig;
  /** Manifest digest (OCI images) or null (a plain directory). */
  digest: string | null;
  /** Removes anything made only for this run (an unpacked archive's layout). */
  release(): void;
}

const EMPTY_CONFIG: ImageConfig = { entrypoint: [], cmd: [], env: [], workingDir: '', user: '' };
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
}

export function imageCacheDir(env = process.env): string {
  return join(env.MAYU_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mayu'), 'images');
}

function blob(layout: string, digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalidArgument('digest', digest, 'must be sha256:<64 hex digits>');
  const path = join(layout, 'blobs', 'sha256', m[1] as string);
  if (!existsSync(path)) throw new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout} lacks blob ${digest}`);
  return path;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The manifest for linux/amd64 (or the only one), following image indexes. */
function pickManifest(layout: string, descriptors: Descriptor[]): Descriptor {
  const wanted = descriptors.find((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64')) ?? descriptors[0];
  if (!wanted) throw new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout} has no manifest`);
  if (wanted.mediaType && INDEX_TYPES.includes(wanted.mediaType)) {
    return pickManifest(layout, readJson<{ manifests: Descriptor[] }>(blob(layout, wanted.digest)).manifests);
  }
  return wanted;
}

/** Unpacks an OCI image layout into the image cache (once per manifest digest). */
export async function unpackOciLayout(layout: string): Promise<ResolvedImage> {
  const index = readJson<{ manifests?: Descriptor[] }>(join(layout, 'index.json'));
  const manifestDesc = pickManifest(layout, index.manifests ?? []);
  const manifest = readJson<{ config: Descriptor; layers: Descriptor[] }>(blob(layout, manifestDesc.digest));
  const raw = readJson<{ config?: Record<string, unknown> }>(blob(layout, manifest.config.digest)).config ?? {};
  const config: ImageConfig = {
    entrypoint: (raw.Entrypoint as string[] | null) ?? [],
    cmd: (raw.Cmd as string[] | null) ?? [],
    env: (raw.Env as string[] | null) ?? [],
    workingDir: (raw.WorkingDir as string | undefined) ?? '',
    user: (raw.User as string | undefined) ?? '',
  };
  const dir = join(imageCacheDir(), manifestDesc.digest.replace(':', '-'));
  const rootfs = join(dir, 'rootfs');
  if (!existsSync(join(dir, 'complete'))) {
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(dir, 'unpack-'));
    try {
      for (const layer of manifest.layers) await applyLayer(tmp, blob(layout, layer.digest));
      rmSync(rootfs, { recursive: true, force: true });
      renameSync(tmp, rootfs);
      writeFileSync(join(dir, 'complete'), `${manifestDesc.digest}\n`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { rootfs, config, digest: manifestDesc.digest, release: () => {} };
}

/**
 * IMAGE for mayu run: an OCI image layout directory (it has `oci-layout`),
 * an OCI archive (a tar of such a layout), or a plain root filesystem directory.
 */
export async function resolveImage(ref: string): Promise<ResolvedImage> {
  if (!existsSync(ref)) throw invalidArgument('IMAGE', ref, 'does not exist');
  const st = statSync(ref);
  if (st.isDirectory()) {
    if (existsSync(join(ref, 'oci-layout')) && existsSync(join(ref, 'index.json'))) return unpackOciLayout(ref);
    if (!existsSync(join(ref, 'bin')) && !existsSync(join(ref, 'usr'))) {
      throw invalidArgument('IMAGE', ref, 'is neither an OCI image layout (oci-layout, index.json) nor a root filesystem (bin/ or usr/)');
    }
    return { rootfs: ref, config: EMPTY_CONFIG, digest: null, release: () => {} };
  }
  mkdirSync(imageCacheDir(), { recursive: true });
  const layout = mkdtempSync(join(imageCacheDir(), 'archive-'));
  try {
    await execa('tar', ['-x', '-f', ref, '-C', layout]);
    return await unpackOciLayout(layout);
  } catch (err) {
    if (err instanceof MayuError) throw err;
    throw invalidArgument('IMAGE', ref, `is not an OCI archive (${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message})`);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
