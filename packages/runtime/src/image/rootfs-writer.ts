/*
 * Extracting image layers without trusting them.
 *
 * A layer is hostile input, unpacked as root: names with "..", absolute
 * names, a symlink from one layer that a later entry writes through
 * (`x -> /etc/cron.d`, then `x/evil`), hard links to host files, whiteouts
 * naming "..", device nodes. What we considered:
 * - openat2(RESOLVE_IN_ROOT) through a native addon: the kernel's answer, but
 *   Node's fs cannot take directory fds, so every operation would need the
 *   addon; a native build for one feature.
 * - GNU tar run chroot'ed into the rootfs: needs a tar binary inside the
 *   image being built (an empty rootfs has none), and whiteouts still need
 *   code of ours that walks the same hostile tree.
 * - node-tar: a history of path traversal CVEs (symlink and hard link
 *   escapes, unicode folding), and no OCI whiteouts.
 * So we read the tar ourselves (tar-reader.ts) and resolve every path in user
 * space beneath the rootfs with chroot semantics (in-root.ts, as containerd's
 * continuity fs.RootPath and Go's securejoin): a symlink on the way is
 * followed inside the rootfs, the final component is never followed. That
 * is race-free here because the tree being built is private to us: a fresh
 * 0700 directory nobody else writes (image-cache.ts).
 *
 * Dropped on purpose: device nodes and FIFOs (counted), xattrs (so file
 * capabilities in images are lost; setuid/setgid bits are kept).
 */
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync, symlinkSync, unlinkSync } from 'node:fs';
import { MayuError, type ErrorCode } from '@mayu/protocol';
import { entryComponents, whiteoutOf } from './entry-path.js';
import { writeNewFile } from './new-file.js';
import { hostPath, isPlainDirectory, lstatOrNull, resolveInRoot } from './in-root.js';
import type { TarEntry } from './tar-reader.js';
import { DEFAULT_UNPACK_LIMITS, type UnpackLimits } from './unpack-limits.js';
import { applyWhiteout, LayerPaths, removePath } from './whiteout.js';

interface DirAttrs {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

const { O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;

/** Writes layers, one after the other, into a private root directory. */
export class RootfsWriter {
  /** Device nodes and FIFOs dropped so far. */
  dropped = 0;
  /** Directory attributes, set at the end so a 0555 directory does not block its children. */
  private readonly dirs = new Map<string, DirAttrs>([['', { mode: 0o755, uid: 0, gid: 0, mtime: Date.now() / 1000 }]]);
  private readonly asRoot = process.getuid?.() === 0;

  constructor(
    readonly root: string,
    private readonly limits: Pick<UnpackLimits, 'maxEntriesPerLayer'> = DEFAULT_UNPACK_LIMITS,
  ) {}

  /** Applies one layer's entries; `digest` names it in errors. */
  async applyLayer(digest: string, entries: AsyncIterable<TarEntry>): Promise<void> {
    const where = `layer ${digest}`;
    const written = new LayerPaths();
    let count = 0;
    let current: string | null = null;
    try {
      for await (const entry of entries) {
        current = entry.name;
        if (++count > this.limits.maxEntriesPerLayer) {
          throw new MayuError('ERR_RESOURCE_EXHAUSTED', `${where}: has more than ${this.limits.maxEntriesPerLayer} entries`);
        }
        await this.apply(where, entry, written);
        current = null;
      }
    } catch (err) {
      throw contextual(err, digest, current);
    }
  }

  /** Sets directory owners, modes and times, deepest first. Call once, after the last layer. */
  finish(): void {
    const keys = [...this.dirs.keys()].sort((a, b) => depth(b) - depth(a));
    for (const key of keys) {
      const rel = key === '' ? [] : key.split('/');
      // Skip what a later entry removed or replaced (never follow a symlink put there).
      if (!isPlainDirectory(this.root, rel)) continue;
      const a = this.dirs.get(key) as DirAttrs;
      const fd = openSync(hostPath(this.root, rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        if (this.asRoot) fchownSync(fd, a.uid, a.gid);
        fchmodSync(fd, a.mode & 0o7777);
        futimesSync(fd, a.mtime, a.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }

  private async apply(where: string, entry: TarEntry, written: LayerPaths): Promise<void> {
    const components = entryComponents(entry.name, where);
    const base = components.at(-1);
    const whiteout = base === undefined ? null : whiteoutOf(base, where, entry.name);
    if (whiteout) return applyWhiteout(this.root, components.slice(0, -1), whiteout, written);
    if (entry.type === 'char-device' || entry.type === 'block-device' || entry.type === 'fifo') {
      this.dropped++;
      return;
    }
    if (base === undefined) {
      if (entry.type !== 'directory') throw new MayuError('ERR_INVALID_ARGUMENT', `is a ${entry.type} where the root directory is`);
      this.dirs.set('', attrs(entry));
      return;
    }
    const parent = resolveInRoot(this.root, components.slice(0, -1), { create: true, onCreate: (rel) => this.implicitDir(rel) }) as string[];
    const rel = [...parent, base];
    const path = hostPath(this.root, rel);
    written.add(rel);
    if (entry.type === 'directory') {
      const st = lstatOrNull(path);
      if (!st?.isDirectory()) {
        if (st) unlinkSync(path);
        mkdirSync(path, { mode: 0o700 });
      }
      this.dirs.set(rel.join('/'), attrs(entry));
    } else if (entry.type === 'hardlink') {
      const target = this.linkTarget(where, entry.linkname);
      if (target === path) return;
      removePath(path);
      linkSync(target, path);
    } else if (entry.type === 'symlink') {
      removePath(path);
      symlinkSync(entry.linkname, path);
      if (this.asRoot) lchownSync(path, entry.uid, entry.gid);
      lutimesSync(path, entry.mtime, entry.mtime);
    } else {
      removePath(path);
      await this.writeFile(path, entry);
    }
  }

  /** A directory made because an entry needed it, without an entry of its own: 0755 root. */
  private implicitDir(rel: string[]): void {
    const key = rel.join('/');
    if (!this.dirs.has(key)) this.dirs.set(key, { mode: 0o755, uid: 0, gid: 0, mtime: Date.now() / 1000 });
  }

  /** A hard link's target: resolved beneath root, its last component not followed; an existing non-directory. */
  private linkTarget(where: string, linkname: string): string {
    const components = entryComponents(linkname, where, 'hard link target');
    const base = components.at(-1);
    const dir = base === undefined ? null : resolveInRoot(this.root, components.slice(0, -1), { create: false });
    const target = dir && hostPath(this.root, [...dir, base as string]);
    const st = target ? lstatOrNull(target) : null;
    if (!target || !st) throw new MayuError('ERR_INVALID_ARGUMENT', `hard link target ${JSON.stringify(linkname)} is not in the image`);
    if (st.isDirectory()) throw new MayuError('ERR_INVALID_ARGUMENT', `hard link target ${JSON.stringify(linkname)} is a directory`);
    return target;
  }

  /** A new regular file, streamed from the archive; then owner, mode (setuid kept) and times. */
  private async writeFile(path: string, entry: TarEntry): Promise<void> {
    await writeNewFile(path, entry.body, (fd) => {
      // chown first: it clears setuid/setgid bits, which chmod then sets.
      if (this.asRoot) fchownSync(fd, entry.uid, entry.gid);
      fchmodSync(fd, entry.mode & 0o7777);
      futimesSync(fd, entry.mtime, entry.mtime);
    });
  }
}

const depth = (key: string): number => (key === '' ? 0 : key.split('/').length);

const attrs = (e: TarEntry): DirAttrs => ({ mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime });

/** The error with the layer (and entry) in its message; fs errors become MayuErrors. */
function contextual(err: unknown, layer: string, entry: string | null): MayuError {
  const where = `layer ${layer}`;
  const at = entry === null ? where : `${where}: entry ${JSON.stringify(entry)}`;
  if (err instanceof MayuError) {
    if (err.message.startsWith(where)) return err;
    return new MayuError(err.code, `${at}: ${err.message}`, { cause: err, details: { ...err.details, layer, entry } });
  }
  const errno = (err as NodeJS.ErrnoException).code;
  const code: ErrorCode = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'ERR_RESOURCE_EXHAUSTED' : 'ERR_INVALID_ARGUMENT';
  return new MayuError(code, `${at}: cannot unpack (${(err as Error).message})`, { cause: err, details: { layer, entry } });
}
