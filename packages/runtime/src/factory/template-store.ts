import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MayuError } from '@mayu/protocol';
import type { Logger } from 'pino';
import { processExists } from '../util/process.js';

/** What a template was made from and what a clone needs to know of it (manifest.json). */
export interface TemplateManifest {
  key: string;
  createdAt: string;
  /** How long building it took (the cold boot and the save). */
  buildMs: number;
  vcpus: number;
  memoryMib: number;
  /** The guest image's files (resolved): a template of another image is stale. */
  image: string[];
  /** The template NICs' MACs, in order: a clone's guest has these until the agent gives it the pod's. */
  nicMacs: string[];
  /** The device set and every other input, as the hypervisor described it (the key is its hash). */
  identity: string;
}

export interface Template {
  dir: string;
  manifest: TemplateManifest;
  /** The guest RAM file (mapped private by each clone). */
  memoryFile: string;
  /** The saved device state. */
  stateFile: string;
}

const MANIFEST = 'manifest.json';
/** A build takes seconds: a lock older than this is stale whatever its pid (which may have been reused). */
const LOCK_MAX_AGE_MS = 10 * 60_000;
const KEY = /^[0-9a-f]{16}$/;

/**
 * The templates on this host, one directory per key under `dir` (a tmpfs):
 * `memory`, `state` and `manifest.json`. A template is built in a directory
 * of its own (`.build-<key>-<pid>`) and appears under its key by one
 * rename, complete or not at all; a build holds `.lock-<key>` (its pid) so
 * that concurrent callers never build the same template twice, and what a
 * killed builder left is removed by the next one.
 */
export class TemplateStore {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The complete templates, newest first. */
  list(): Template[] {
    const out: Template[] = [];
    for (const name of this.entries()) {
      if (!KEY.test(name)) continue;
      const t = this.get(name);
      if (t) out.push(t);
    }
    return out.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
  }

  /** The template of `key`, if it is complete. */
  get(key: string): Template | null {
    if (!KEY.test(key)) return null;
    const dir = join(this.dir, key);
    try {
      const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as TemplateManifest;
      const t = { dir, manifest, memoryFile: join(dir, 'memory'), stateFile: join(dir, 'state') };
      if (manifest.key !== key || !existsSync(t.memoryFile) || !existsSync(t.stateFile)) return null;
      return t;
    } catch {
      return null;
    }
  }

  /**
   * Removes a template. Clones running from it keep their mappings (the
   * files go when the last one exits).
   */
  remove(key: string): boolean {
    if (!KEY.test(key) || !existsSync(join(this.dir, key))) return false;
    // Out of sight first (one rename), then deleted.
    const doomed = join(this.dir, `.remove-${key}-${process.pid}`);
    renameSync(join(this.dir, key), doomed);
    rmSync(doomed, { recursive: true, force: true });
    this.log.info({ event: 'template.removed', key }, 'template removed');
    return true;
  }

  /**
   * The template of `key`: the one there is, or one built now by `build`
   * (given an empty directory to fill with `memory` and `state`; it returns
   * the manifest). Null when another process is building it (the caller
   * boots cold rather than wait). Building keeps at most `max` templates,
   * removing the oldest.
   */
  async ensure(key: string, max: number, build: (dir: string) => Promise<TemplateManifest>): Promise<Template | null> {
    if (!KEY.test(key)) throw new MayuError('ERR_INVALID_ARGUMENT', `template key ${key}: must be 16 hex digits`);
    const existing = this.get(key);
    if (existing) return existing;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lock = this.lock(key);
    if (!lock) return null;
    try {
      const again = this.get(key);
      if (again) return again;
      this.removeLeftovers();
      const work = join(this.dir, `.build-${key}-${process.pid}`);
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { mode: 0o700 });
      let manifest: TemplateManifest;
      try {
        manifest = await build(work);
        if (manifest.key !== key) throw new MayuError('ERR_INTERNAL', `template build returned key ${manifest.key}, not ${key}`);
        const fd = openSync(join(work, MANIFEST), 'wx', 0o600);
        writeSync(fd, `${JSON.stringify(manifest, null, 2)}\n`);
        closeSync(fd);
        for (const old of this.list().slice(Math.max(0, max - 1))) this.remove(old.manifest.key);
        renameSync(work, join(this.dir, key));
      } catch (err) {
        rmSync(work, { recursive: true, force: true });
        throw err;
      }
      this.log.info({ event: 'template.built', key, buildMs: manifest.buildMs }, 'template built');
      return this.get(key);
    } finally {
      lock();
    }
  }

  /** Removes what killed builders left: their build directories, stale locks, half-removed templates. */
  removeLeftovers(): void {
    for (const name of this.entries()) {
      const m = /^\.(build|remove)-[0-9a-f]{16}-(\d+)$/.exec(name) ?? /^\.(lock)-[0-9a-f]{16}$/.exec(name);
      if (!m) continue;
      const path = join(this.dir, name);
      const pid = m[1] === 'lock' ? this.lockOwner(path) : Number(m[2]);
      // Ours (this process may be building another), or a live builder's.
      if (pid === process.pid || (pid !== null && processExists(pid) && Date.now() - safeMtime(path) < LOCK_MAX_AGE_MS)) continue;
      rmSync(path, { recursive: true, force: true });
    }
  }

  private entries(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  /** Takes `.lock-<key>` (O_EXCL, holding our pid), replacing a dead owner's; returns its release, or null if a live process holds it. */
  private lock(key: string): (() => void) | null {
    const path = join(this.dir, `.lock-${key}`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, `${process.pid}\n`);
        } catch (err) {
          // A full disk: no lock without our pid in it is left behind.
          rmSync(path, { force: true });
          throw err;
        } finally {
          closeSync(fd);
        }
        return () => rmSync(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = this.lockOwner(path);
        // A lock being written (no pid yet) is young: someone else has it.
        if (owner === null && Date.now() - safeMtime(path) < 5000) return null;
        if (owner !== null && processExists(owner) && Date.now() - safeMtime(path) < LOCK_MAX_AGE_MS) return null;
        rmSync(path, { force: true });
      }
    }
    return null;
  }

  private lockOwner(path: string): number | null {
    try {
      const pid = Number(readFileSync(path, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
