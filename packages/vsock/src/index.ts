/**
 * @mayu/vsock: AF_VSOCK sockets for Node (a small N-API addon), the
 * hybrid-vsock dialer for Cloud Hypervisor and Firecracker, and the helper
 * that turns a stream fd Node refuses into a net.Socket.
 */
export {
  native,
  setAddonPath,
  VMADDR_CID_ANY,
  VMADDR_CID_HOST,
  VMADDR_CID_LOCAL,
  VMADDR_PORT_ANY,
  type VsockAddress,
} from './native.js';
export { VsockServer, connectVsock } from './vsock-socket.js';
export { dialHybridVsock, type HybridDialOptions } from './hybrid-dialer.js';
export { socketFromFd, type FdSocketOptions } from './fd-socket.js';
