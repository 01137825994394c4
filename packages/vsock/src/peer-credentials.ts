import type { Socket } from 'node:net';
import { native, type PeerCredentials, type VsockNative } from './native.js';

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
  return addonFunction('peerCredentials')(socketFd(socket));
}

/** The fd of a connected net.Socket (see peerCredentials for where it comes from). */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw Object.assign(new Error(`the socket has no file descriptor (${socket.destroyed ? 'destroyed' : 'not connected, or not a socket handle'})`), {
      code: 'ERR_VSOCK_FD',
    });
  }
  return fd;
}

/** One of the addon's functions; an addon built before it existed (MAYU_VSOCK_ADDON, or an old install) is an error naming it. */
export function addonFunction<K extends Exclude<keyof VsockNative, 'constants'>>(name: K): VsockNative[K] {
  const fn = native()[name];
  if (typeof fn !== 'function') throw Object.assign(new Error(`the vsock addon has no ${name} (rebuild it: npm ci)`), { code: 'ERR_VSOCK_ADDON_MISSING' });
  return fn;
}
