import { Server, type Socket } from 'node:net';
import { addonFunction, socketFd } from './peer-credentials.js';

/**
 * A TCP server listening on 127.0.0.1 (an ephemeral port) inside the
 * network namespace at `nsPath` — a pod's, say — although this process
 * stays in its own: the socket is made in that namespace and belongs to it,
 * and so do the connections it accepts. Needs CAP_SYS_ADMIN.
 */
export async function listenInNetns(nsPath: string, o: { backlog?: number; allowHalfOpen?: boolean } = {}): Promise<Server> {
  const fd = addonFunction('listenInNetns')(nsPath, o.backlog ?? 128);
  const server = new Server({ allowHalfOpen: o.allowHalfOpen ?? false });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Where an accepted IPv4 connection was headed before netfilter redirected
 * it to this listener (SO_ORIGINAL_DST). Throws ENOENT for a connection that
 * was not redirected.
 */
export function originalDestination(socket: Socket): { address: string; port: number } {
  return addonFunction('originalDestination')(socketFd(socket));
}
