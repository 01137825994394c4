import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '@mayu/protocol';
import type { ImageConfig } from '../image/oci-image.js';
import { defaultSeccomp } from './default-seccomp.js';

/** Capabilities a container gets by default (the set Docker and containerd use). */
// prettier-ignore
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  /** Command and arguments; empty: the image's entrypoint + cmd. */
  args: string[];
  env: string[];
  cwd?: string;
  /** "UID[:GID]" or a name from the image's /etc/passwd. */
  user?: string;
  terminal: boolean;
  /** The terminal's initial size (with `terminal`). */
  consoleSize?: { height: number; width: number };
  readOnlyRootfs?: boolean;
  hostname?: string;
  /** Bind mounts (rbind); propagation rprivate unless given (rslave: later host mounts under source show). */
  volumes: { source: string; destination: string; readOnly: boolean; propagation?: 'rprivate' | 'rslave' | 'rshared' }[];
  /**
   * The container's seccomp filter: 'default' (mayu's default profile, the
   * effect of Docker's: see default-seccomp.ts) or 'unconfined' (no filter).
   * Default: 'default'.
   */
  seccomp?: 'default' | 'unconfined';
}

const SECCOMP_MODES = ['default', 'unconfined'];

/** Resolves "name", "uid", "uid:gid" or "name:group" against the rootfs's /etc/passwd and /etc/group. */
export function resolveUser(spec: string, rootfs: string): { uid: number; gid: number } {
  if (!spec) return { uid: 0, gid: 0 };
  const [u = '', g] = spec.split(':');
  const table = (file: string): string[][] => {
    try {
      return readFileSync(join(rootfs, 'etc', file), 'utf8')
        .split('\n')
        .map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  const passwd = table('passwd');
  let uid: number;
  let gid = 0;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = Number(passwd.find((e) => e[2] === u)?.[3] ?? uid);
  } else {
    const entry = passwd.find((e) => e[0] === u);
    if (!entry) throw invalidArgument('--user', spec, `no user ${JSON.stringify(u)} in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const group = table('group').find((e) => e[0] === g);
      if (!group) throw invalidArgument('--user', spec, `no group ${JSON.stringify(g)} in the image's /etc/group`);
      gid = Number(group[2]);
    }
  }
  return { uid, gid };
}

/** Merges environment lists; later entries override earlier ones with the same name. */
export function mergeEnv(...lists: string[][]): string[] {
  const byName = new Map<string, string>();
  for (const e of lists.flat()) byName.set(e.split('=')[0], e);
  return [...byName.values()];
}

/**
 * An OCI runtime spec for `mayu run`: the defaults runc and containerd use
 * (namespaces, capabilities, masked paths, standard mounts, and a seccomp
 * profile to the effect of Docker's, for the bounding set), the image's
 * config, then the command line's options. Paths are host paths; the
 * sandbox rewrites them for the guest.
 */
export function defaultSpec(rootfs: string, image: ImageConfig, o: RunOptions): Record<string, unknown> {
  const args = o.args.length > 0 ? (image.entrypoint.length > 0 ? [...image.entrypoint, ...o.args] : o.args) : [...image.entrypoint, ...image.cmd];
  if (args.length === 0) throw invalidArgument('CMD', '', 'the image has no command: give one after --');
  if (o.seccomp !== undefined && !SECCOMP_MODES.includes(o.seccomp)) throw invalidArgument('seccomp', o.seccomp, "must be 'default' or 'unconfined'");
  const caps = [...DEFAULT_CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal,
      ...(o.terminal && o.consoleSize ? { consoleSize: o.consoleSize } : {}),
      user: resolveUser(o.user ?? image.user, rootfs),
      args,
      env: mergeEnv([DEFAULT_PATH, 'HOME=/root', ...(o.terminal ? ['TERM=xterm'] : [])], image.env, o.env),
      cwd: o.cwd || image.workingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: o.readOnlyRootfs ?? false },
    hostname: o.hostname ?? 'mayu',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ...o.volumes.map((v) => ({ destination: v.destination, type: 'bind', source: v.source, options: ['rbind', v.readOnly ? 'ro' : 'rw', v.propagation ?? 'rprivate'] })),
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      ...(o.seccomp === 'unconfined' ? {} : { seccomp: defaultSeccomp(caps) }),
    },
  };
}
