import { connect, type Socket } from 'node:net';
import { checkU32 } from './validate.js';

/** The longest reply line a hybrid-vsock peer may send ("OK 4294967295\n" is 14). */
const MAX_REPLY = 64;

export interface HybridDialOptions {
  /** How long to wait for the connection and the OK line (default 10 s). */
  timeoutMs?: number;
}

/**
 * Connects to a guest vsock port through a hypervisor's hybrid-vsock Unix
 * socket (Cloud Hypervisor, Firecracker): sends `CONNECT <port>\n`, expects
 * `OK <host-port>\n`, then the socket is a raw stream to the guest port.
 * Resolves with the socket and the host-side port the VMM reported. The
 * socket is paused, like net's pauseOnConnect: bytes that arrived after the
 * OK line wait in it until the caller pipes it or calls resume().
 */
export function dialHybridVsock(udsPath: string, port: number, options: HybridDialOptions = {}): Promise<{ socket: Socket; hostPort: number }> {
  try {
    checkU32('port', port);
  } catch (err) {
    return Promise.reject(err);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect(udsPath);
    let reply = Buffer.alloc(0);
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(hybridError('ETIMEDOUT', `no OK from ${udsPath} for port ${port} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      reply = Buffer.concat([reply, chunk]);
      const nl = reply.indexOf(0x0a);
      if (nl < 0) {
        if (reply.length > MAX_REPLY) fail(hybridError('EPROTO', `reply from ${udsPath} is too long without a newline`));
        return;
      }
      const line = reply.subarray(0, nl).toString('latin1');
      const match = /^OK (\d{1,10})$/.exec(line);
      if (!match) {
        fail(hybridError('EPROTO', `unexpected reply ${JSON.stringify(line.slice(0, MAX_REPLY))} to CONNECT ${port}`));
        return;
      }
      cleanup();
      const rest = reply.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, hostPort: Number(match[1]) });
    };
    const onClose = (): void => fail(hybridError('ECONNRESET', `${udsPath} closed the connection: nothing listens on guest port ${port}`));
    const onError = (err: Error): void => fail(err);
    function cleanup(): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.pause();
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.once('connect', () => socket.write(`CONNECT ${port}\n`));
  });
}

function hybridError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
