import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { MayuError } from '@mayu/protocol';

export interface GuestImageArtifact {
  file: string;
  bytes: number;
  sha256: string;
}

/** manifest.json of a built guest image (guest-image/build). */
export interface GuestImageManifest {
  schemaVersion: number;
  inputsHash: string;
  variant: string;
  kernel: { release: string; source: string };
  agent: { version: string; node: string };
  ociRuntime: string;
  rootfsImageType: string;
  artifacts: { kernel: GuestImageArtifact; initrd: GuestImageArtifact; image: GuestImageArtifact };
  builtAt: string;
}

export interface GuestImage {
  dir: string;
  manifest: GuestImageManifest;
  kernel: string;
  initrd: string;
  image: string;
}

/** Where the guest image is looked for, in order, when not configured. */
export function guestImageCandidates(configured: string, env = process.env): string[] {
  if (configured) return [resolve(configured)];
  const cacheRoot = env.MAYU_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mayu');
  return [...(env.MAYU_GUEST_IMAGE_DIR ? [resolve(env.MAYU_GUEST_IMAGE_DIR)] : []), join(cacheRoot, 'guest-image/current'), '/usr/share/mayu/guest-image'];
}

/** Finds and reads the guest image; ERR_GUEST_IMAGE says where it looked. */
export function locateGuestImage(configured: string): GuestImage {
  const candidates = guestImageCandidates(configured);
  const dir = candidates.find((d) => existsSync(join(d, 'manifest.json')));
  if (!dir) {
    throw new MayuError('ERR_GUEST_IMAGE', `no guest image found (looked in ${candidates.join(', ')}); build it with guest-image/build`, {
      details: { candidates },
    });
  }
  let manifest: GuestImageManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as GuestImageManifest;
  } catch (err) {
    throw new MayuError('ERR_GUEST_IMAGE', `${dir}/manifest.json is unreadable: ${(err as Error).message}`, { cause: err });
  }
  if (manifest.schemaVersion !== 1 || !manifest.artifacts?.kernel) {
    throw new MayuError('ERR_GUEST_IMAGE', `${dir}/manifest.json: unsupported schemaVersion ${String(manifest.schemaVersion)}`);
  }
  const a = manifest.artifacts;
  return { dir, manifest, kernel: join(dir, a.kernel.file), initrd: join(dir, a.initrd.file), image: join(dir, a.image.file) };
}
