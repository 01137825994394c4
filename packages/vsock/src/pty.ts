import { addonFunction } from './peer-credentials.js';

/** A pty pair: the master goes to whoever shows the terminal, the slave (raw) to whoever relays it. */
export interface Pty {
  master: number;
  slave: number;
  path: string;
}

/** A new pty (posix_openpt); its slave is in raw mode. */
export function openPty(): Pty {
  return addonFunction('openPty')();
}

/**
 * Hands `fd` to the process listening on the Unix socket at `socketPath`
 * (SCM_RIGHTS), with `name` as the message: what runc does with a
 * container's terminal and --console-socket.
 */
export function sendFd(socketPath: string, fd: number, name: string): void {
  addonFunction('sendFd')(socketPath, fd, name);
}

/** TIOCSCTTY: the terminal becomes this session's controlling terminal (we must lead the session). */
export function makeControllingTerminal(fd: number): void {
  addonFunction('makeControllingTerminal')(fd);
}

export function windowSize(fd: number): { rows: number; columns: number } {
  return addonFunction('windowSize')(fd);
}

export function setWindowSize(fd: number, rows: number, columns: number): void {
  addonFunction('setWindowSize')(fd, rows, columns);
}
