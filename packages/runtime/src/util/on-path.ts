import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Where `command` is: itself when it has a slash, else the first executable of that name on PATH; null if none. */
export function resolveOnPath(command: string, path = process.env.PATH ?? ''): string | null {
  const candidates = command.includes('/')
    ? [command]
    : path
        .split(delimiter)
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not there
    }
  }
  return null;
}

/** The system directories the runtime's helpers (ip, tc, iptables, nsenter, mount, QEMU) are in. */
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * PATH with the system directories it lacks added after its own: an engine
 * may start the runtime with little or none (cri-o's conmon passes only its
 * conmon_env), and the runtime's helpers live in sbin.
 */
export function withSystemPath(path = process.env.PATH ?? ''): string {
  const dirs = path.split(delimiter).filter((d) => d !== '');
  return [...dirs, ...SYSTEM_PATH.filter((d) => !dirs.includes(d))].join(delimiter);
}
