import { spawn } from 'node:child_process';
import { MayuError } from '@mayu/protocol';

/** How long one mount(8)/umount(8) may take. */
const MOUNT_TIMEOUT_MS = 10_000;

/**
 * Runs mount(8) or umount(8) with paths taken literally (--no-canonicalize:
 * util-linux would otherwise resolve symlinks itself). `fds` are handed to
 * the command as fds 3, 4, ... so that an argument can be /proc/self/fd/3:
 * the file an O_PATH fd names, whatever its path has become since.
 */
export function mountCommand(command: 'mount' | 'umount', args: string[], fds: number[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['--no-canonicalize', ...args], { stdio: ['ignore', 'ignore', 'pipe', ...fds], timeout: MOUNT_TIMEOUT_MS });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    child.once('error', (err) => reject(new MayuError('ERR_INTERNAL', `cannot run ${command}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new MayuError('ERR_INTERNAL', `${command} ${args.join(' ')}: ${stderr.trim() || `exited ${code ?? signal}`}`, { details: { args } }));
    });
  });
}

/** /proc/self/fd/N for the i-th fd handed to mountCommand. */
export function passedFd(i: number): string {
  return `/proc/self/fd/${3 + i}`;
}
