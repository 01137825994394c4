import { status, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { networkInterfaces } from 'node:os';
import { connect, type Socket } from 'node:net';
import type { agentWire } from '@mayu/protocol';
import type { Logger } from 'pino';

type Message = agentWire.PortForwardMessage;
export type PortForwardCall = ServerDuplexStream<Message, Message>;

/** How long the first message (which port) may take to come. */
const OPEN_TIMEOUT_MS = 10_000;
/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** What one data message carries at most (the host's bound too). */
export const PORT_FORWARD_CHUNK = 64 * 1024;

/**
 * Where a port-forward connects, in order: loopback first (what containerd
 * dials with runc, in the pod's namespace), then the pod's own addresses,
 * for a server that listens on the pod IP only.
 */
export function forwardTargets(interfaces = networkInterfaces()): string[] {
  const pod = Object.entries(interfaces)
    .filter(([name]) => name !== 'lo')
    .flatMap(([, addrs]) => (addrs ?? []).filter((a) => !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:'))).map((a) => a.address));
  return ['127.0.0.1', '::1', ...pod];
}

function connectTo(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('timeout', () => fail(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}

function failCall(call: PortForwardCall, code: status, details: string): void {
  const err: Partial<ServiceError> = { code, details };
  call.emit('error', err);
}

/**
 * Serves one PortForward call: waits for the host's `open`, connects to the
 * port (loopback, then the pod's addresses), answers `connected`, then
 * copies bytes both ways with backpressure. The host ending its side ends
 * the connection's write side; the connection ending ends the call.
 */
export function servePortForward(call: PortForwardCall, log: Logger, targets: () => string[] = forwardTargets): void {
  let socket: Socket | null = null;
  let done = false;
  const finish = (err?: { code: status; details: string }): void => {
    if (done) return;
    done = true;
    socket?.destroy();
    if (err) failCall(call, err.code, err.details);
    else call.end();
  };
  const openTimer = setTimeout(() => finish({ code: status.DEADLINE_EXCEEDED, details: `no open message within ${OPEN_TIMEOUT_MS} ms` }), OPEN_TIMEOUT_MS);
  call.on('error', () => finish());
  call.on('cancelled', () => finish());

  const onFirst = (m: Message): void => {
    clearTimeout(openTimer);
    const port = m.kind?.$case === 'open' ? m.kind.open.port : 0;
    if (m.kind?.$case !== 'open' || !Number.isInteger(port) || port < 1 || port > 65535) {
      finish({ code: status.INVALID_ARGUMENT, details: `the first message must be open with a port in 1-65535 (got ${m.kind?.$case === 'open' ? port : (m.kind?.$case ?? 'nothing')})` });
      return;
    }
    call.pause();
    void open(port);
  };
  call.once('data', onFirst);

  const open = async (port: number): Promise<void> => {
    const tried: string[] = [];
    for (const host of targets()) {
      if (done) return;
      try {
        socket = await connectTo(host, port);
        log.debug({ port, host }, 'port-forward connected');
        call.write({ kind: { $case: 'connected', connected: { address: host } } });
        pipe(socket, port);
        return;
      } catch (err) {
        tried.push(`${host} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    finish({ code: status.UNAVAILABLE, details: `nothing in the pod accepts connections on port ${port}: tried ${tried.join(', ')}` });
  };

  const pipe = (s: Socket, port: number): void => {
    // guest connection -> host
    s.on('data', (chunk: Buffer) => {
      for (let off = 0; off < chunk.length; off += PORT_FORWARD_CHUNK) {
        if (!call.write({ kind: { $case: 'data', data: chunk.subarray(off, off + PORT_FORWARD_CHUNK) } })) s.pause();
      }
    });
    call.on('drain', () => s.resume());
    s.on('end', () => finish());
    s.on('close', () => finish());
    s.on('error', (err) => {
      log.debug({ err, port }, 'port-forward connection failed');
      finish();
    });
    // host -> guest connection
    call.on('data', (m: Message) => {
      if (m.kind?.$case !== 'data') return finish({ code: status.INVALID_ARGUMENT, details: `only data may follow open (got ${m.kind?.$case ?? 'nothing'})` });
      if (!s.write(m.kind.data)) {
        call.pause();
        s.once('drain', () => call.resume());
      }
    });
    call.on('end', () => s.end());
    call.resume();
  };
}
