// Test-only OCI image layout builder: blobs with right or wrong digests, symlinked or FIFO blobs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzip } from './tar-fixture.js';

export interface FixtureBlob {
  /** The bytes the descriptor's digest is taken of. */
  content: Buffer;
  mediaType?: string;
  /** What the blob file holds instead of `content` (a corrupted blob). */
  stored?: Buffer;
  /** The descriptor's size, where it should lie. */
  size?: number;
  /** Store the blob as a symlink to a file holding `content`, or as a FIFO. */
  as?: 'symlink' | 'fifo';
}

export interface FixtureImage {
  layers: FixtureBlob[];
  config?: Record<string, unknown>;
  /** Overrides for the manifest blob (its content is made here). */
  manifest?: Omit<FixtureBlob, 'content'>;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer blob from a tar, gzip'd unless told otherwise. */
export function layer(tar: Buffer, opts: Omit<FixtureBlob, 'content'> & { gzip?: boolean } = {}): FixtureBlob {
  const zip = opts.gzip ?? true;
  return { mediaType: `application/vnd.oci.image.layer.v1.tar${zip ? '+gzip' : ''}`, ...opts, content: zip ? gzip(tar) : tar };
}

function writeBlob(layout: string, blob: FixtureBlob): { mediaType?: string; digest: string; size: number } {
  const digest = sha256(blob.content);
  const path = join(layout, 'blobs', 'sha256', digest.slice(7));
  rmSync(path, { force: true });
  if (blob.as === 'symlink') {
    const real = join(layout, `real-${digest.slice(7)}`);
    writeFileSync(real, blob.content);
    symlinkSync(real, path);
  } else if (blob.as === 'fifo') {
    execFileSync('mkfifo', [path]);
  } else {
    writeFileSync(path, blob.stored ?? blob.content);
  }
  return { ...(blob.mediaType ? { mediaType: blob.mediaType } : {}), digest, size: blob.size ?? blob.content.length };
}

/** Writes an image layout to `dir`; returns the manifest digest. */
export function buildLayout(dir: string, image: FixtureImage): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const layers = image.layers.map((l) => writeBlob(dir, l));
  const config = writeBlob(dir, {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    content: Buffer.from(JSON.stringify(image.config ?? { architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] } })),
  });
  const manifest = writeBlob(dir, {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...image.manifest,
    content: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })),
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' }] }));
  return manifest.digest;
}
