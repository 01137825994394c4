/**
 * @mayu/vsock: the host's and guest's small socket addon — AF_VSOCK,
 * SO_PEERCRED, a listener in another network namespace, SO_ORIGINAL_DST and
 * a pty handed over a console socket,
 * the system calls Node's net module cannot make (a small N-API addon,
 * src/addon/vsock.c) — with the AF_VSOCK sockets, the peer credentials of a
 * Unix socket, the TCP listener in a pod's network namespace, the hybrid-vsock dialer for Cloud Hypervisor
 * and Firecracker, and the helper that turns a stream fd Node refuses into a
 * net.Socket.
 */
export { native, setAddonPath, VMADDR_CID_ANY, VMADDR_CID_HOST, VMADDR_CID_LOCAL, VMADDR_PORT_ANY, type PeerCredentials, type VsockAddress } from './native.js';
export { peerCredentials } from './peer-credentials.js';
export { VsockServer, connectVsock } from './vsock-socket.js';
export { dialHybridVsock, type HybridDialOptions } from './hybrid-dialer.js';
export { socketFromFd, type FdSocketOptions } from './fd-socket.js';
export { listenInNetns, originalDestination } from './netns-listener.js';
export { openPty, sendFd, makeControllingTerminal, windowSize, setWindowSize, type Pty } from './pty.js';
