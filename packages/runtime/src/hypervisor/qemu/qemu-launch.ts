/** util-linux's setpriv: sets the capability bounding set, no_new_privs and the parent-death signal, then execs. */
export const SETPRIV = 'setpriv';

/**
 * Capabilities QEMU keeps when it serves files over 9p with the host's real
 * attributes: read and write any file of a container's rootfs or volume
 * (DAC_OVERRIDE, DAC_READ_SEARCH), and let the guest set owners, modes and
 * times there (CHOWN, FOWNER, FSETID). Never MKNOD: a guest cannot create a
 * device node on the host. Nothing else (no SYS_ADMIN, NET_ADMIN, SYS_PTRACE,
 * SETUID...).
 */
export const FILE_SERVER_CAPS = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid'] as const;

export interface QemuLaunch {
  file: string;
  args: string[];
  /** The bounding set QEMU runs with. */
  capabilities: string[];
}

/**
 * How QEMU is started: through setpriv, with a bounding set of only what it
 * needs (FILE_SERVER_CAPS when it serves 9p files, SETUID/SETGID to drop to
 * an unprivileged user with -runas, else nothing at all), no inheritable
 * capabilities, no_new_privs, and SIGKILL when its parent (the process that
 * owns the sandbox) dies. setpriv execs QEMU: the PID is QEMU's. With a
 * pod network, nsenter enters its namespace first and execs setpriv (no fork
 * for a network namespace: still QEMU's PID).
 */
export function qemuLaunch(o: {
  binary: string;
  argv: string[];
  /** Drop to this uid:gid with -runas (QEMU needs SETUID/SETGID for it). */
  runAs: { uid: number; gid: number } | null;
  dieWithParent: boolean;
  servesFiles: boolean;
  /** The pod's network namespace to run in (its taps are there), entered with nsenter before privileges drop. */
  netns?: string;
}): QemuLaunch {
  const caps: string[] = [...(o.servesFiles ? FILE_SERVER_CAPS : []), ...(o.runAs ? ['setuid', 'setgid'] : [])];
  const args = [`--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', '--no-new-privs', ...(o.dieWithParent ? ['--pdeathsig=KILL'] : []), '--', o.binary, ...o.argv];
  if (o.netns) return { file: 'nsenter', args: [`--net=${o.netns}`, '--', SETPRIV, ...args], capabilities: caps };
  return { file: SETPRIV, args, capabilities: caps };
}
