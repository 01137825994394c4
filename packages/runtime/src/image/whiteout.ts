import { readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Whiteout } from './entry-path.js';
import { hostPath, lstatOrNull, resolveInRoot } from './in-root.js';

/**
 * The resolved paths one layer has written, with their parent directories:
 * its own whiteouts never hide them (the OCI image spec: a whiteout applies
 * to the layers below).
 */
export class LayerPaths {
  private readonly paths = new Set<string>();

  add(rel: readonly string[]): void {
    for (let i = rel.length; i > 0; i--) {
      const key = rel.slice(0, i).join('/');
      if (this.paths.has(key)) return;
      this.paths.add(key);
    }
  }

  has(rel: readonly string[]): boolean {
    return this.paths.has(rel.join('/'));
  }
}

/** Removes whatever is at `path` (a directory with its contents); a symlink is removed, never followed. */
export function removePath(path: string): void {
  const st = lstatOrNull(path);
  if (!st) return;
  if (st.isDirectory()) rmSync(path, { recursive: true, force: true });
  else unlinkSync(path);
}

/** Removes everything under `dir` that this layer did not write. */
function clearLowerEntries(root: string, dir: string[], written: LayerPaths): void {
  for (const name of readdirSync(hostPath(root, dir))) {
    const rel = [...dir, name];
    if (!written.has(rel)) removePath(hostPath(root, rel));
    else if (lstatOrNull(join(root, ...rel))?.isDirectory()) clearLowerEntries(root, rel, written);
  }
}

/**
 * Applies a whiteout found in directory `dirComponents` (archive path):
 * `.wh.NAME` removes NAME left by the layers below, `.wh..wh..opq` empties the
 * directory of what they left. The directory is resolved beneath root like
 * any path; where it is not there, there is nothing to remove.
 */
export function applyWhiteout(root: string, dirComponents: string[], whiteout: Whiteout, written: LayerPaths): void {
  if (whiteout.kind === 'meta') return;
  const dir = resolveInRoot(root, dirComponents, { create: false });
  if (!dir) return;
  if (whiteout.kind === 'opaque') {
    clearLowerEntries(root, dir, written);
    return;
  }
  const rel = [...dir, whiteout.name];
  if (!written.has(rel)) removePath(hostPath(root, rel));
}
