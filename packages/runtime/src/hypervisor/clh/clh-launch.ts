import type { ClhConfig } from '../../config/runtime-config.js';
import { SETPRIV } from '../qemu/qemu-launch.js';
import type { ClhPaths } from './clh-paths.js';
import type { VmmUser } from './vmm-privileges.js';

/**
 * Cloud Hypervisor's own flags: the API socket, seccomp, its log file. No VM
 * flag: the VM is created and booted through the API (a payload flag would
 * boot at once).
 */
export function clhArgv(o: { paths: ClhPaths; seccomp: ClhConfig['seccomp']; debug: boolean }): string[] {
  return ['--api-socket', `path=${o.paths.api}`, '--seccomp', o.seccomp, '--log-file', o.paths.log, ...(o.debug ? ['-v'] : [])];
}

export interface ClhLaunch {
  file: string;
  args: string[];
}

/**
 * How CH is started: through setpriv, which execs it (the PID is CH's).
 * CH serves no files (virtiofsd does) and has no -runas: setpriv switches to
 * `user` (--reuid/--regid, supplementary groups: only the ones given, e.g.
 * /dev/kvm's) before the exec; with `user` null it stays root. Either way the
 * bounding set is empty, so CH runs with no capabilities at all (as root it
 * reaches what root owns, nothing more), no_new_privs, and SIGKILL when the
 * process that owns the sandbox dies (setpriv sets it after the uid switch,
 * which would clear it).
 */
export function clhLaunch(o: { binary: string; argv: string[]; user: VmmUser | null; dieWithParent: boolean }): ClhLaunch {
  const user = o.user ? [`--reuid=${o.user.uid}`, `--regid=${o.user.gid}`, o.user.groups.length > 0 ? `--groups=${o.user.groups.join(',')}` : '--clear-groups'] : [];
  return {
    file: SETPRIV,
    args: [...user, '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', ...(o.dieWithParent ? ['--pdeathsig=KILL'] : []), '--', o.binary, ...o.argv],
  };
}
