import type { Duplex } from 'node:stream';
import { invalidArgument } from '@mayu/protocol';
import { connectVsock, dialHybridVsock } from '@mayu/vsock';
import { splitPort, type AgentDialer } from './dialer.js';

/** vsock://CID:PORT: AF_VSOCK through vhost-vsock (QEMU on a KVM host). */
export function vsockDialer(url: URL): AgentDialer {
  const { host, port } = splitPort('agent endpoint', url.host);
  const cid = Number(host);
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff) throw invalidArgument('agent endpoint', url.href, 'CID must be a 32-bit number');
  return {
    url: url.href,
    dial: (timeoutMs: number): Promise<Duplex> => connectVsock(cid, port, { timeoutMs }),
    close: () => {},
  };
}

/** hvsock://PATH:PORT: a hypervisor's hybrid-vsock Unix socket (Cloud Hypervisor, Firecracker). */
export function hybridVsockDialer(url: URL): AgentDialer {
  const { host: path, port } = splitPort('agent endpoint', decodeURIComponent(url.pathname));
  if (!path.startsWith('/') || url.host) throw invalidArgument('agent endpoint', url.href, 'hvsock:// needs an absolute socket path (hvsock:///path:PORT)');
  return {
    url: url.href,
    dial: async (timeoutMs: number): Promise<Duplex> => (await dialHybridVsock(path, port, { timeoutMs })).socket,
    close: () => {},
  };
}
