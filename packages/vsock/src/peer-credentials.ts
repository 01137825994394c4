import type { Socket } from 'node:net';
import { native, type PeerCredentials } from './native.js';

/**
 * The pid, uid and gid of the process at the other end of a connected Unix
 * socket, as the kernel recorded them at connect time (SO_PEERCRED, which
 * Node's net module does not offer). Throws an errno error (ENOPROTOOPT) for
 * a socket that is not AF_UNIX, ENOTCONN for one not connected.
 *
 * The descriptor comes from a Node internal: a net.Socket's `_handle` (a
 * libuv Pipe or TCP wrap) has an `fd` getter on Unix, -1 or absent once the
 * socket is closed. It is read here and nowhere else; if a Node version
 * drops it, this throws ERR_VSOCK_FD rather than guessing, and the caller
 * refuses the connection. (fd-socket.ts is the package's other use of a Node
 * internal, the pipe_wrap binding.)
 */
export function peerCredentials(socket: Socket): PeerCredentials {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw Object.assign(new Error(`the socket has no file descriptor (${socket.destroyed ? 'destroyed' : 'not connected, or not a Unix socket handle'})`), {
      code: 'ERR_VSOCK_FD',
    });
  }
  const n = native();
  if (typeof n.peerCredentials !== 'function') {
    // An addon built before peerCredentials existed (MAYU_VSOCK_ADDON, or an old install).
    throw Object.assign(new Error('the vsock addon has no peerCredentials (rebuild it: npm ci)'), { code: 'ERR_VSOCK_ADDON_MISSING' });
  }
  return n.peerCredentials(fd);
}
