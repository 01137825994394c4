import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface VsockAddress {
  cid: number;
  port: number;
}

/** Who is at the other end of a Unix socket (SO_PEERCRED). */
export interface PeerCredentials {
  /** 0 when the peer is in another pid namespace. */
  pid: number;
  /** The peer's effective uid at connect time; 65534 when it is not mapped in this user namespace. */
  uid: number;
  gid: number;
}

/**
 * The addon's functions (src/addon/vsock.c): the host's and guest's small
 * socket addon, AF_VSOCK, SO_PEERCRED, a listener in another network
 * namespace and SO_ORIGINAL_DST.
 */
export interface VsockNative {
  constants: {
    VMADDR_CID_ANY: number;
    VMADDR_CID_LOCAL: number;
    VMADDR_CID_HOST: number;
    VMADDR_PORT_ANY: number;
  };
  socket(): number;
  bind(fd: number, cid: number, port: number): void;
  listen(fd: number, backlog: number): void;
  localAddress(fd: number): VsockAddress;
  close(fd: number): void;
  startAccept(fd: number, cb: (err: NodeJS.ErrnoException | null, fd?: number, peer?: VsockAddress) => void): object;
  /** Stops an accept watcher, or a connect that has not called back yet; at most once. */
  stopWatch(handle: object): void;
  connect(fd: number, cid: number, port: number, cb: (err: NodeJS.ErrnoException | null) => void): object;
  /** SO_PEERCRED of a connected AF_UNIX socket; throws ENOPROTOOPT for other sockets, ENOTCONN when unconnected. */
  peerCredentials(fd: number): PeerCredentials;
  /** A TCP socket listening on 127.0.0.1 (an ephemeral port) in the network namespace at nsPath. */
  listenInNetns(nsPath: string, backlog: number): number;
  /** Where a redirected IPv4 TCP connection was headed (SO_ORIGINAL_DST); ENOENT when it was not redirected. */
  originalDestination(fd: number): { address: string; port: number };
  /** A new pty: its master and raw-mode slave (both close-on-exec, neither our controlling terminal) and the slave's path. */
  openPty(): { master: number; slave: number; path: string };
  /** Sends fd over the Unix socket at socketPath (SCM_RIGHTS), with `name` as the message. */
  sendFd(socketPath: string, fd: number, name: string): void;
  /** Makes the terminal at fd this session's controlling terminal (TIOCSCTTY): its resizes then send us SIGWINCH. */
  makeControllingTerminal(fd: number): void;
  windowSize(fd: number): { rows: number; columns: number };
  setWindowSize(fd: number, rows: number, columns: number): void;
}

/** Well-known CIDs and the "any" port, as in <linux/vm_sockets.h>. */
export const VMADDR_CID_ANY = 0xffffffff;
export const VMADDR_CID_LOCAL = 1;
export const VMADDR_CID_HOST = 2;
export const VMADDR_PORT_ANY = 0xffffffff;

let addonPath: string | undefined = process.env.MAYU_VSOCK_ADDON;
let loaded: VsockNative | undefined;

/**
 * Where to load the addon from. The guest agent (a single executable) sets
 * this to the copy in its image; elsewhere the node-gyp build output is used.
 */
export function setAddonPath(path: string): void {
  if (loaded) throw new Error('the vsock addon is already loaded');
  addonPath = path;
}

/** Defined by scripts/bundle-host.mjs in an installed bundle: the addon lies beside it. */
declare const __MAYU_INSTALL_ROOT__: string | undefined;

function defaultAddonPath(): string {
  if (typeof __MAYU_INSTALL_ROOT__ === 'string') return `${__MAYU_INSTALL_ROOT__}/vsock.node`;
  try {
    return fileURLToPath(new URL('../../build/Release/vsock.node', import.meta.url));
  } catch {
    return '/usr/lib/mayu/vsock.node';
  }
}

/** Loads the addon on first use (so that importing this package never does). */
export function native(): VsockNative {
  if (loaded) return loaded;
  const path = addonPath ?? defaultAddonPath();
  if (!existsSync(path)) {
    throw Object.assign(new Error(`vsock addon not found at ${path} (run npm ci to build it)`), {
      code: 'ERR_VSOCK_ADDON_MISSING',
    });
  }
  const module = { exports: {} as VsockNative };
  process.dlopen(module, path);
  loaded = module.exports;
  return loaded;
}
