import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MayuError } from '@mayu/protocol';
import { digestHex } from './blob.js';

/**
 * The image cache: `MAYU_CACHE_DIR/images`, or `$XDG_CACHE_HOME/mayu/images`
 * (default `~/.cache/mayu/images`). Unpacked images live in its `v2/`.
 */
export function imageCacheDir(env = process.env): string {
  return join(env.MAYU_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mayu'), 'images');
}

/**
 * Layout version of the cache. v1 entries (`images/sha256-*`) were made by an
 * extractor that trusted the image; they are ignored, never read.
 */
const LAYOUT = 'v2';

/**
 * A directory only its owner may enter (made so, or narrowed to 0700). The
 * configured cache directory may be a symlink to one; our own `v2` may not.
 */
function privateDir(path: string, follow: boolean): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = follow ? statSync(path) : lstatSync(path);
  if (!st.isDirectory()) throw new MayuError('ERR_INVALID_STATE', `image cache ${path} is not a directory`);
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o700);
  return path;
}

/** `imageCacheDir()/v2`, both 0700: unpacked images keep their setuid files, which nobody else may reach. */
export function cacheRoot(env = process.env): string {
  privateDir(imageCacheDir(env), true);
  return privateDir(join(imageCacheDir(env), LAYOUT), false);
}

/** An unpacked image in the cache. */
export interface CacheEntry {
  /** The image's root filesystem: read-only to its users (they put an overlay on top). */
  rootfs: string;
  /** Device nodes and FIFOs the unpack dropped. */
  droppedEntries: number;
}

interface Marker {
  digest: string;
  droppedEntries: number;
}

function readEntry(dir: string): CacheEntry | null {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(join(dir, 'complete'), 'utf8')) as Marker;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MayuError('ERR_INVALID_STATE', `image cache entry ${dir} has an unreadable complete marker`, { cause: err });
  }
  return { rootfs: join(dir, 'rootfs'), droppedEntries: marker.droppedEntries ?? 0 };
}

/** The cached unpack of manifest `digest`, if a complete one exists. */
export function lookupImage(digest: string, env = process.env): CacheEntry | null {
  return readEntry(join(cacheRoot(env), `sha256-${digestHex(digest)}`));
}

/**
 * The cached unpack of manifest `digest`, building it where missing: `build`
 * fills a rootfs in a fresh private directory (`v2/.tmp-<hex>-<random>`),
 * which gets its `complete` marker and is then renamed onto
 * `v2/sha256-<hex>` in one step. Where another process got there first,
 * ours is discarded and theirs used; a complete entry is never replaced.
 * On any failure the temporary directory is removed.
 */
export async function cachedImage(digest: string, build: (rootfs: string) => Promise<{ droppedEntries: number }>, env = process.env): Promise<CacheEntry> {
  const root = cacheRoot(env);
  const hex = digestHex(digest);
  const final = join(root, `sha256-${hex}`);
  const existing = readEntry(final);
  if (existing) return existing;
  const tmp = mkdtempSync(join(root, `.tmp-${hex}-`));
  try {
    mkdirSync(join(tmp, 'rootfs'), { mode: 0o700 });
    const { droppedEntries } = await build(join(tmp, 'rootfs'));
    const marker: Marker = { digest, droppedEntries };
    writeFileSync(join(tmp, 'complete'), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
    try {
      renameSync(tmp, final);
      return { rootfs: join(final, 'rootfs'), droppedEntries };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      const theirs = readEntry(final);
      if (!theirs) throw new MayuError('ERR_INVALID_STATE', `image cache entry ${final} exists but is not complete: remove it`, { cause: err });
      return theirs;
    }
  } finally {
    removeTree(tmp);
  }
}

/**
 * rm -rf that also works without root where the tree has directories an
 * image made unwritable (0555): those are opened up (never through a
 * symlink) and the removal tried again.
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    openUp(path);
    rmSync(path, { recursive: true, force: true });
  }
}

function openUp(dir: string): void {
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) openUp(join(dir, name));
}
