import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { MayuError } from '@mayu/protocol';

/** Paths mounted on the host under `dir` (from /proc/self/mountinfo), deepest first. */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((target) => target.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/**
 * Bind-mounts `source` (a directory or a file) onto `target`, read-only when
 * asked. The target is created. This is how a container's rootfs and volumes
 * enter the sandbox's shared directory.
 */
export async function bindMount(source: string, target: string, readOnly: boolean): Promise<void> {
  const isDir = statSync(source).isDirectory();
  if (isDir) {
    mkdirSync(target, { recursive: true });
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, '', { flag: 'a' });
  }
  try {
    await execa('mount', ['--bind', source, target]);
    await execa('mount', ['--make-private', target]);
    if (readOnly) await execa('mount', ['-o', 'remount,bind,ro', target]);
  } catch (err) {
    await unmount(target);
    throw new MayuError('ERR_INTERNAL', `cannot bind ${source} onto ${target}: ${(err as { stderr?: string }).stderr || (err as Error).message}`, { cause: err });
  }
}

/** Lazily unmounts `target` if it is mounted; never throws. */
export async function unmount(target: string): Promise<void> {
  if (!mountsUnder(dirname(target)).includes(target)) return;
  await execa('umount', ['-l', target]).catch(() => {});
}

/** Unmounts everything mounted under `dir` (a sandbox's state directory). */
export async function unmountAllUnder(dir: string): Promise<void> {
  for (const target of mountsUnder(dir)) await execa('umount', ['-l', target]).catch(() => {});
}

/**
 * Removes a directory that may still hold bind mounts (a sandbox's state
 * directory after a crash): everything mounted under it is unmounted first,
 * so that removing it can never reach into a container's rootfs or volumes.
 * Refuses (ERR_INTERNAL) if a mount is left.
 */
export function removeDirSafely(dir: string): void {
  for (const target of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', target], { stdio: 'ignore' });
    } catch {
      // checked below
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new MayuError('ERR_INTERNAL', `refusing to remove ${dir}: still mounted: ${left.join(', ')}`, { details: { left } });
  rmSync(dir, { recursive: true, force: true });
}
