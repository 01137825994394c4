import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { agentWire } from '@mayu/protocol';
import { connectVsock, VMADDR_CID_LOCAL, VMADDR_PORT_ANY, VsockServer } from '@mayu/vsock';
import { grpcUnary } from './grpc-unary.js';

/**
 * AF_VSOCK tests that can only run inside a guest: the development host's
 * vsock belongs to its own infrastructure and is never touched. The host's
 * integration suite boots a VM with `agent.selftest=vsock` and reads the
 * result line from the console. Transport: the loopback CID 1.
 */
export interface SelftestResult {
  name: string;
  passed: string[];
  failed: { test: string; error: string }[];
}

type Case = [string, () => Promise<void>];

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** A server on an ephemeral port that runs `onSocket` for each connection. */
function withServer(onSocket: (s: Socket) => void): { server: VsockServer; port: number } {
  const server = new VsockServer();
  const { port } = server.listen(VMADDR_PORT_ANY);
  server.on('connection', onSocket);
  return { server, port };
}

function echo(s: Socket): void {
  s.pipe(s);
}

async function grpcCheck(port: number): Promise<void> {
  const socket = await connectVsock(VMADDR_CID_LOCAL, port, { timeoutMs: 5000 });
  const reply = await grpcUnary(socket, '/mayu.agent.v1.AgentService/Check', agentWire.CheckRequest.encode({ service: '' }).finish());
  const res = agentWire.CheckResponse.decode(reply);
  assert(res.status === agentWire.CheckResponse_ServingStatus.SERVING_STATUS_SERVING, `status ${res.status}`);
}

export async function runVsockSelftest(agentPort: number): Promise<SelftestResult> {
  const cases: Case[] = [
    [
      'listen on an ephemeral port reports it',
      async () => {
        const server = new VsockServer();
        const addr = server.listen(VMADDR_PORT_ANY);
        server.close();
        assert(addr.port > 0 && addr.port !== VMADDR_PORT_ANY, `port ${addr.port}`);
      },
    ],
    [
      '1 MiB echoes intact over loopback',
      async () => {
        const { server, port } = withServer(echo);
        try {
          const data = randomBytes(1 << 20);
          const client = await connectVsock(VMADDR_CID_LOCAL, port);
          const back = readAll(client);
          client.end(data);
          const got = await back;
          assert(got.length === data.length && sha(got) === sha(data), `echoed ${got.length} bytes, digest differs`);
        } finally {
          server.close();
        }
      },
    ],
    [
      'half-close reaches the peer as end-of-stream',
      async () => {
        let received = '';
        const done = new Promise<void>((resolve, reject) => {
          const { server, port } = withServer((s) => {
            s.on('data', (c: Buffer) => (received += c.toString()));
            s.on('end', () => {
              s.end('bye');
              server.close();
              resolve();
            });
          });
          // The client's failure fails this case (not the agent, as an unhandled rejection).
          connectVsock(VMADDR_CID_LOCAL, port)
            .then(async (c) => {
              const reply = readAll(c);
              c.end('hello');
              assert((await reply).toString() === 'bye', 'no reply after half-close');
            })
            .catch(reject);
        });
        await done;
        assert(received === 'hello', `server received ${JSON.stringify(received)}`);
      },
    ],
    [
      '20 concurrent connections each get their own stream',
      async () => {
        const { server, port } = withServer(echo);
        try {
          await Promise.all(
            Array.from({ length: 20 }, async (_, i) => {
              const c = await connectVsock(VMADDR_CID_LOCAL, port);
              const back = readAll(c);
              c.end(`conn-${i}`);
              assert((await back).toString() === `conn-${i}`, `connection ${i} mixed up`);
            }),
          );
        } finally {
          server.close();
        }
      },
    ],
    [
      'connecting to a port nobody listens on fails',
      async () => {
        const { server, port } = withServer(echo);
        server.close();
        const err = await connectVsock(VMADDR_CID_LOCAL, port).then(
          (s) => (s.destroy(), null),
          (e: NodeJS.ErrnoException) => e,
        );
        assert(err && ['ECONNRESET', 'ECONNREFUSED'].includes(err.code ?? ''), `got ${err?.code ?? 'a connection'}`);
      },
    ],
    [
      'invalid ports are rejected before any system call',
      async () => {
        const err = await connectVsock(VMADDR_CID_LOCAL, 2 ** 32).then(
          () => null,
          (e: Error) => e,
        );
        assert(err instanceof RangeError && /port/.test(err.message), `got ${String(err)}`);
      },
    ],
    ['gRPC Check answers over vsock', () => grpcCheck(agentPort)],
  ];
  const result: SelftestResult = { name: 'vsock', passed: [], failed: [] };
  for (const [test, fn] of cases) {
    try {
      await withTimeout(fn(), 20_000, test);
      result.passed.push(test);
    } catch (err) {
      result.failed.push({ test, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
