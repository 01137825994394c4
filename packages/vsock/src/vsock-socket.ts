import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { socketFromFd } from './fd-socket.js';
import { native, VMADDR_CID_ANY, type VsockAddress } from './native.js';
import { checkU32 } from './validate.js';

/**
 * An AF_VSOCK listening socket.
 *
 * Events: 'connection' (socket: net.Socket, peer: VsockAddress), 'error'.
 */
export class VsockServer extends EventEmitter {
  private fd = -1;
  private acceptHandle: object | null = null;

  /** Binds and listens; port VMADDR_PORT_ANY picks a free port. */
  listen(port: number, options: { cid?: number; backlog?: number } = {}): VsockAddress {
    checkU32('port', port);
    const cid = checkU32('cid', options.cid ?? VMADDR_CID_ANY);
    if (this.fd >= 0) throw new Error('vsock server is already listening');
    const n = native();
    const fd = n.socket();
    try {
      n.bind(fd, cid, port);
      n.listen(fd, options.backlog ?? 128);
      this.acceptHandle = n.startAccept(fd, (err, clientFd, peer) => this.onAccept(err, clientFd, peer));
    } catch (err) {
      n.close(fd);
      throw err;
    }
    this.fd = fd;
    return n.localAddress(fd);
  }

  address(): VsockAddress | null {
    return this.fd >= 0 ? native().localAddress(this.fd) : null;
  }

  /** Stops accepting and closes the listening socket; idempotent. */
  close(): void {
    if (this.fd < 0) return;
    const n = native();
    if (this.acceptHandle) n.stopWatch(this.acceptHandle);
    this.acceptHandle = null;
    n.close(this.fd);
    this.fd = -1;
    this.emit('close');
  }

  private onAccept(err: NodeJS.ErrnoException | null, fd?: number, peer?: VsockAddress): void {
    if (err || fd === undefined || !peer) {
      this.emit('error', err ?? new Error('accept returned no descriptor'));
      return;
    }
    let socket: Socket;
    try {
      socket = socketFromFd(fd);
    } catch (wrapErr) {
      native().close(fd);
      this.emit('error', wrapErr);
      return;
    }
    this.emit('connection', socket, peer);
  }
}

/** Connects to (cid, port); rejects with the errno error (ECONNREFUSED, ETIMEDOUT...). */
export function connectVsock(cid: number, port: number, options: { timeoutMs?: number } = {}): Promise<Socket> {
  try {
    checkU32('cid', cid);
    checkU32('port', port);
  } catch (err) {
    return Promise.reject(err);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const n = native();
    const fd = n.socket();
    let settled = false;
    let watch: object | undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      if (watch) n.stopWatch(watch);
      n.close(fd);
      reject(Object.assign(new Error(`vsock connect to ${cid}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    try {
      watch = n.connect(fd, cid, port, (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          n.close(fd);
          reject(err);
          return;
        }
        try {
          resolve(socketFromFd(fd));
        } catch (wrapErr) {
          n.close(fd);
          reject(wrapErr);
        }
      });
    } catch (err) {
      settled = true;
      clearTimeout(timer);
      n.close(fd);
      reject(err);
    }
  });
}
