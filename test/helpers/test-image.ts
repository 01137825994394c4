import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveImage } from '@mayu/runtime';
import { ARTIFACTS, REPO_ROOT } from './guest-factory.js';

export interface TestImage {
  /** An OCI image layout (two layers, the second with a whiteout). */
  layout: string;
  /** The same image as an OCI archive. */
  archive: string;
  /** And as an archive Docker 20.10 loads (with docker save's manifest.json), named mayu-example:latest. */
  dockerArchive: string;
  /** Its unpacked root filesystem (busybox, /etc/passwd with root and nobody). */
  rootfs: string;
}

let built: TestImage | undefined;

/** The test image, built locally from busybox-static once per test run. */
export async function testImage(): Promise<TestImage> {
  if (built) return built;
  const dir = join(ARTIFACTS, 'image');
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  const archive = join(dir, 'image.tar');
  const dockerArchive = join(dir, 'docker-image.tar');
  if (!existsSync(archive) || !existsSync(dockerArchive)) {
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-example-image.mjs'), layout, '--archive', archive, '--docker-archive', dockerArchive, '--whiteout']);
  }
  built = { layout, archive, dockerArchive, rootfs: (await resolveImage(layout)).rootfs };
  return built;
}

/**
 * An OCI archive of a named image built from busybox-static
 * (build-example-image.mjs `extra`: --pause, --net-tools), built once and
 * kept with the test artifacts; engines import or pull it (no registry).
 */
export function namedImageArchive(name: string, extra: readonly string[] = []): string {
  const dir = join(ARTIFACTS, 'containerd-images');
  mkdirSync(dir, { recursive: true });
  const archive = join(dir, `${name.replace(/[^a-z0-9]+/g, '-')}.tar`);
  if (!existsSync(archive)) execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-example-image.mjs'), join(dir, 'layout'), '--archive', archive, '--name', name, ...extra]);
  return archive;
}
