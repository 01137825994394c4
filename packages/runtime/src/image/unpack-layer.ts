import { closeSync, openSync, readSync, rmSync, readdirSync, lstatSync } from 'node:fs';
import { basename, dirname, join, normalize, relative } from 'node:path';
import { execa } from 'execa';
import { MayuError } from '@mayu/protocol';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    readSync(fd, magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** `rootfs`/`entry`, refusing anything that would leave rootfs. */
function inside(rootfs: string, entry: string): string {
  const path = join(rootfs, normalize(`/${entry}`));
  if (relative(rootfs, path).startsWith('..')) throw new MayuError('ERR_INVALID_ARGUMENT', `image layer entry ${JSON.stringify(entry)} leaves the rootfs`);
  return path;
}

/** Refuses a path whose parent directories include a symlink (a layer must not write through one). */
function assertNoSymlinkParents(rootfs: string, path: string): void {
  for (let dir = dirname(path); dir.length > rootfs.length; dir = dirname(dir)) {
    try {
      if (lstatSync(dir).isSymbolicLink()) throw new MayuError('ERR_INVALID_ARGUMENT', `image layer whiteout ${relative(rootfs, path)} goes through a symlink`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
  }
}

/**
 * Applies one layer (a tar, gzip-compressed or not) onto `rootfs`, as the
 * OCI image spec says: whiteout entries (.wh.NAME) delete NAME from the
 * layers below, an opaque whiteout (.wh..wh..opq) empties its directory, the
 * rest is extracted with owners and modes kept.
 */
export async function applyLayer(rootfs: string, layer: string): Promise<void> {
  const z = isGzip(layer) ? ['-z'] : [];
  const list = await execa('tar', ['-t', ...z, '-f', layer], { maxBuffer: 256 * 1024 * 1024 });
  for (const entry of list.stdout.split('\n').filter(Boolean)) {
    const name = basename(entry);
    if (!name.startsWith(WHITEOUT)) continue;
    const dir = inside(rootfs, dirname(entry));
    assertNoSymlinkParents(rootfs, join(dir, 'x'));
    if (name === OPAQUE) {
      try {
        for (const child of readdirSync(dir)) rmSync(join(dir, child), { recursive: true, force: true });
      } catch {
        // nothing below yet
      }
    } else {
      rmSync(join(dir, name.slice(WHITEOUT.length)), { recursive: true, force: true });
    }
  }
  await execa('tar', ['-x', ...z, '-f', layer, '-C', rootfs, '--numeric-owner', '--same-permissions', '--same-owner', `--exclude=${WHITEOUT}*`, `--exclude=*/${WHITEOUT}*`]);
}
