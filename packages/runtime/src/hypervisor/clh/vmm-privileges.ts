import { chmodSync, chownSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, relative, isAbsolute } from 'node:path';
import { vmmRunAs } from '../vmm-user.js';

/** The unprivileged user Cloud Hypervisor runs as: setpriv --reuid/--regid/--groups. */
export interface VmmUser {
  uid: number;
  gid: number;
  /** Supplementary groups (only /dev/kvm's, when its mode needs it). */
  groups: number[];
}

/** What CH opens, so that an unprivileged CH can be handed what it needs. */
export interface VmmNeeds {
  /** The sandbox's state directory: its group becomes the VMM's, mode 0710 (traverse only). */
  stateDir: string;
  /** CH's own directory (its sockets and log): owned by the VMM's user. */
  vmmDir: string;
  /** Files CH opens read-only (kernel, initramfs, read-only disks). */
  reads: string[];
  /** Files CH opens read-write (writable disks). */
  writes: string[];
  /** Unix sockets CH connects to (virtiofsd's). */
  connects: string[];
  /** /dev/kvm. */
  kvm: string;
}

export interface VmmUserPlan {
  /** null: CH stays root (still without any capability). */
  user: VmmUser | null;
  /** Why, for the log. */
  reason: string;
  /** What `user` could not reach (with run_as = "UID:GID", CH is started anyway and reports what fails). */
  problems: string[];
}

type StatFn = (path: string) => Stats;
const R = 4;
const W = 2;
const X = 1;

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The permission bits (rwx as 4/2/1) `user` gets on a file, from its mode alone (ACLs are not read). */
function bitsFor(st: Stats, user: VmmUser): number {
  if (st.uid === user.uid) return (st.mode >> 6) & 7;
  if (st.gid === user.gid || user.groups.includes(st.gid)) return (st.mode >> 3) & 7;
  return st.mode & 7;
}

/** Why `user` cannot open `path` for `want`, or null (every directory above it must be searchable). */
function unreachable(path: string, want: number, user: VmmUser, stat: StatFn): string | null {
  const dirs: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    dirs.unshift(d);
    if (d === dirname(d)) break;
  }
  try {
    for (const d of dirs) if ((bitsFor(stat(d), user) & X) === 0) return `${d} (not searchable)`;
    if ((bitsFor(stat(path), user) & want) !== want) return `${path} (not ${want & W ? 'writable' : want & R ? 'readable' : 'searchable'})`;
  } catch (err) {
    return `${path} (${(err as NodeJS.ErrnoException).code ?? 'cannot stat'})`;
  }
  return null;
}

/**
 * Who Cloud Hypervisor runs as. CH has no -runas (it never drops privileges
 * itself), so an unprivileged CH must be able to open, as that user, every
 * file it needs. run_as "root": root (setpriv still leaves it no
 * capabilities). "UID:GID": that user. "auto": an unprivileged uid of the
 * sandbox's own when it can reach what CH opens (files in the state
 * directory are handed over, see handOverToVmm; files outside it, such as
 * the guest image, must be readable by anyone, and /dev/kvm usable by anyone
 * or by a non-root group); else root, with the reason.
 */
export function planVmmUser(o: { runAs: string; sandboxId: string; needs: VmmNeeds; stat?: StatFn }): VmmUserPlan {
  const stat = o.stat ?? statSync;
  const base = vmmRunAs(o.runAs, o.sandboxId, false);
  if (!base) return { user: null, reason: 'run_as = "root"', problems: [] };
  const user: VmmUser = { ...base, groups: [] };
  const problems: string[] = [];
  try {
    const kvm = stat(o.needs.kvm);
    if ((bitsFor(kvm, user) & (R | W)) !== (R | W)) {
      if (kvm.gid !== 0 && ((kvm.mode >> 3) & (R | W)) === (R | W)) user.groups.push(kvm.gid);
      else problems.push(`${o.needs.kvm} (usable by root only)`);
    }
  } catch {
    problems.push(`${o.needs.kvm} (missing)`);
  }
  const { stateDir } = o.needs;
  // What lies in the state directory is handed over; what lies above it must be searchable.
  const above = unreachable(dirname(stateDir), X, user, stat);
  if (above) problems.push(above);
  for (const [files, want] of [
    [o.needs.reads, R],
    [o.needs.writes, R | W],
  ] as const) {
    for (const f of files) {
      if (inside(stateDir, f)) continue;
      const p = unreachable(f, want, user, stat);
      if (p) problems.push(p);
    }
  }
  const who = `uid ${user.uid}, gid ${user.gid}${user.groups.length ? `, groups ${user.groups.join(',')}` : ''}`;
  if (o.runAs !== 'auto') return { user, reason: `run_as = "${o.runAs}" (${who})`, problems };
  if (problems.length > 0) return { user: null, reason: `run_as = "auto": ${who} could not reach ${problems.join(', ')}; staying root without capabilities`, problems };
  return { user, reason: `run_as = "auto" (${who})`, problems };
}

/**
 * Gives an unprivileged CH what it needs in the state directory: the
 * directory becomes searchable by its group only (root:GID 0710), its own
 * directory is its (0700), files it reads and sockets it connects to get its
 * group (g+r, g+rw), files it writes become its own.
 */
export function handOverToVmm(user: VmmUser, needs: VmmNeeds): void {
  const st = statSync(needs.stateDir);
  chownSync(needs.stateDir, st.uid, user.gid);
  chmodSync(needs.stateDir, 0o710);
  mkdirSync(needs.vmmDir, { recursive: true, mode: 0o700 });
  chownSync(needs.vmmDir, user.uid, user.gid);
  const grant = (path: string, bits: number): void => {
    const f = statSync(path);
    chownSync(path, f.uid, user.gid);
    chmodSync(path, (f.mode & 0o7777) | bits);
  };
  for (const f of needs.reads) if (inside(needs.stateDir, f)) grant(f, 0o040);
  for (const f of needs.connects) if (inside(needs.stateDir, f)) grant(f, 0o060);
  for (const f of needs.writes) if (inside(needs.stateDir, f)) chownSync(f, user.uid, user.gid);
}
