import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { Metadata, Server, ServerCredentials, status, type ServerDuplexStream, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { agentWire, AgentServiceService } from '@mayu/protocol';

/** What a method does with a request: answer these bytes, fail, or never answer. */
export type Behaviour = (request: Buffer, method: string) => Promise<Buffer>;

/** An error the fake agent sends, with whatever metadata it likes. */
export class AgentFault extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
  }
}

const empty = (): Buffer => Buffer.alloc(0);
const encode = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T): Buffer => Buffer.from(type.encode(m).finish());

/**
 * What a streaming method (PortForward) does with its call: raw message
 * bytes both ways (decode and encode with the agent API's types).
 */
export type StreamBehaviour = (call: ServerDuplexStream<Buffer, Buffer>) => void;

/** Never answers (a stalled guest, or a long poll with nothing to report). */
export const stall: Behaviour = () => new Promise(() => {});

/**
 * The part of the agent API the host needs to boot a sandbox and create a
 * container, answered honestly; everything else stalls (long polls) or is
 * empty. Tests replace methods with hostile behaviours.
 */
export function honestAgent(): Record<string, Behaviour> {
  return {
    Check: async () => encode(agentWire.CheckResponse, { status: agentWire.CheckResponse_ServingStatus.SERVING_STATUS_SERVING }),
    GetGuestDetails: async () =>
      encode(agentWire.GuestDetails, agentWire.GuestDetails.fromPartial({ kernelRelease: '6.1.0-fake', agentVersion: 'hostile', onlineCpus: 1, memoryTotalBytes: 512 << 20 })),
    CreateSandbox: async () => empty(),
    ResizeGuest: async () => empty(),
    DestroySandbox: async () => empty(),
    CreateContainer: async () => empty(),
    StartContainer: async () => empty(),
    RemoveContainer: async () => empty(),
    SignalProcess: async () => empty(),
    CloseStdin: async () => empty(),
    TtyWinResize: async () => empty(),
    WaitProcess: stall,
    ReadStdout: stall,
    ReadStderr: stall,
    GetOOMEvent: stall,
  };
}

/**
 * A guest agent for tests (of the host's side, and of what a hostile guest
 * can do to it): a real gRPC server of the
 * agent API (raw bytes in and out, so it can send anything at all) behind a
 * hybrid-vsock socket (`CONNECT <port>\n` → `OK <port>\n`), the way the
 * host reaches an agent through `hvsock://PATH:PORT`. It floods, lies,
 * stalls or disconnects as each test's behaviours say, and counts calls.
 */
export class FakeAgent {
  readonly behaviours: Record<string, Behaviour> = honestAgent();
  /** Streaming methods, by name; unset ones answer UNIMPLEMENTED. */
  readonly streams: Record<string, StreamBehaviour> = {};
  readonly calls = new Map<string, number>();
  /** The last request of each method, as bytes (decode with the agent API's types). */
  readonly lastRequest = new Map<string, Buffer>();
  /** Calls answered with `stall` so far, per method: set() hands them to the new behaviour. */
  private readonly stalled = new Map<string, { request: Buffer; answer: (p: Promise<Buffer>) => void }[]>();
  private readonly grpc = new Server({ 'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20 });
  private front: NetServer | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly hybridSocket: string,
    private readonly grpcSocket: string,
  ) {}

  static async start(dir: string): Promise<FakeAgent> {
    const tag = randomBytes(4).toString('hex');
    const agent = new FakeAgent(`${dir}/hostile-${tag}.sock`, `${dir}/hostile-${tag}-grpc.sock`);
    await agent.listen();
    return agent;
  }

  /** The agent endpoint the host dials. */
  get endpoint(): string {
    return `hvsock://${this.hybridSocket}:1024`;
  }

  /** Changes what `method` does, for the calls to come and for those stalled so far. */
  set(method: string, behaviour: Behaviour): void {
    this.behaviours[method] = behaviour;
    const waiting = this.stalled.get(method) ?? [];
    this.stalled.delete(method);
    for (const w of waiting) w.answer(this.dispatch(method, w.request));
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  /** Cuts every connection now (a guest that disconnects mid-call). */
  disconnectAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.disconnectAll();
    this.front?.close();
    this.grpc.forceShutdown();
    rmSync(this.hybridSocket, { force: true });
    rmSync(this.grpcSocket, { force: true });
  }

  private async listen(): Promise<void> {
    const definition: Record<string, unknown> = {};
    const impl: Record<string, unknown> = {};
    for (const [key, m] of Object.entries(AgentServiceService)) {
      const name = m.path.split('/').pop() as string;
      definition[key] = { ...m, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b };
      if (m.requestStream || m.responseStream) {
        impl[key] = (call: ServerDuplexStream<Buffer, Buffer>) => {
          this.calls.set(name, this.count(name) + 1);
          const behaviour = this.streams[name];
          if (behaviour) behaviour(call);
          else call.emit('error', { code: status.UNIMPLEMENTED, details: `${name} is not implemented by this fake agent` });
        };
        continue;
      }
      impl[key] = (call: { request: Buffer }, callback: (err: unknown, res?: Buffer) => void) => {
        this.calls.set(name, this.count(name) + 1);
        this.lastRequest.set(name, call.request);
        this.dispatch(name, call.request).then(
          (res) => callback(null, res),
          (err: unknown) => {
            const fault = err instanceof AgentFault ? err : new AgentFault(status.INTERNAL, String(err));
            const md = new Metadata();
            for (const [k, v] of Object.entries(fault.metadata)) md.set(k, v);
            callback({ code: fault.code, details: fault.message, metadata: md });
          },
        );
      };
    }
    this.grpc.addService(definition as ServiceDefinition, impl as UntypedServiceImplementation);
    await new Promise<void>((resolve, reject) => this.grpc.bindAsync(`unix://${this.grpcSocket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    this.front = createServer((client) => this.handshake(client));
    await new Promise<void>((resolve) => this.front?.listen(this.hybridSocket, resolve));
  }

  private dispatch(method: string, request: Buffer): Promise<Buffer> {
    const behaviour = this.behaviours[method] ?? (async () => empty());
    if (behaviour !== stall) return behaviour(request, method);
    return new Promise((resolve, reject) => {
      const list = this.stalled.get(method) ?? [];
      list.push({
        request,
        answer: (p) => {
          p.then(resolve, reject);
        },
      });
      this.stalled.set(method, list);
    });
  }

  /** Hybrid vsock: a CONNECT line, an OK line, then the socket is the agent's. */
  private handshake(client: Socket): void {
    this.sockets.add(client);
    client.on('error', () => {});
    client.once('close', () => this.sockets.delete(client));
    let line = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      line = Buffer.concat([line, chunk]);
      const nl = line.indexOf(0x0a);
      if (nl < 0) return;
      client.off('data', onData);
      client.pause();
      const port = /^CONNECT (\d+)$/.exec(line.subarray(0, nl).toString())?.[1];
      if (!port) return void client.destroy();
      const upstream = connect(this.grpcSocket);
      this.sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.once('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      upstream.once('connect', () => {
        client.write(`OK ${port}\n`);
        const rest = line.subarray(nl + 1);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    client.on('data', onData);
  }
}
