import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { podRoleOf } from '@mayu/protocol/light';

/** Where containerd's shims put their sockets (also with a private containerd root). */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

/** The shim socket's mode: only its owner (root, like containerd) may connect. */
export const SHIM_SOCKET_MODE = 0o600;
/** The mode a shim gives the socket directory when it creates it. */
export const SHIM_SOCKET_DIR_MODE = 0o700;

/**
 * A file in the sandbox's bundle while its VM exists: JSON naming the
 * configuration file in use, so that `delete` after a crash finds the VM
 * (by the sandbox id, under that configuration's state_dir).
 */
export const SANDBOX_MARKER = 'mayu-sandbox.json';

/**
 * The socket a shim group listens on: the hex sha256 of
 * address/namespace/group under /run/containerd/s, as containerd's shims do.
 */
export function socketPath(address: string, namespace: string, groupId: string): string {
  return join(
    SHIM_SOCKET_DIR,
    createHash('sha256')
      .update(join(address, namespace, groupId))
      .digest('hex'),
  );
}

/**
 * Makes sure a socket's directory exists, as containerd's shims do: when
 * missing it is created (with its missing parents) 0700, whatever the umask.
 * One that exists is containerd's and left as it is; its mode is returned
 * so that the caller can note a wider one (the socket itself is 0600 and
 * checks its peer either way).
 */
export function ensureSocketDir(dir: string): { created: boolean; mode: number } {
  const created = mkdirSync(dir, { recursive: true, mode: SHIM_SOCKET_DIR_MODE }) !== undefined;
  if (created) chmodSync(dir, SHIM_SOCKET_DIR_MODE);
  return { created, mode: statSync(dir).mode & 0o7777 };
}

export function annotationsOf(bundle: string): Record<string, string> {
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    return spec.annotations ?? {};
  } catch {
    return {};
  }
}

/**
 * The shim (and VM) a task belongs to: a pod's container (containerd CRI's
 * or cri-o's annotations) joins its pod's sandbox; a sandbox, or a task
 * without pod annotations (ctr run), is its own. Annotations that name no
 * pod leave the task its own here; its Create refuses them.
 */
export function groupIdOf(id: string, annotations: Record<string, string>): string {
  try {
    const role = podRoleOf(annotations);
    return role.kind === 'member' ? role.sandboxId : id;
  } catch {
    return id;
  }
}

/** Whether a shim server answers on the socket (a leftover socket file does not). */
export function serverAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
