import { credentials, Metadata, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { Duplex } from 'node:stream';
import {
  AgentServiceClient,
  agentWire,
  containerStatsFromWire,
  createContainerToWire,
  createSandboxToWire,
  execProcessToWire,
  exitStatusFromWire,
  fromServiceError,
  guestDetailsFromWire,
  processListingFromWire,
  interfaceToWire,
  routeToWire,
  neighborToWire,
  type NetInterface,
  type NetRoute,
  type NetNeighbor,
  oomEventFromWire,
  writeStreamFromWire,
  type WireIssueSink,
  MayuError,
  servingStatusFromWire,
  type ContainerStats,
  type CreateContainerOptions,
  type CreateSandboxOptions,
  type ExecProcessOptions,
  type ExitStatus,
  type GuestDetails,
  type ProcessListing,
  type ProcessRef,
  type ServingStatus,
} from '@mayu/protocol';
import type { Logger } from 'pino';
import { AgentBridge } from './agent-bridge.js';
import { createDialer } from './dialers.js';

/** The most a single message from the guest may weigh. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface AgentClientOptions {
  /** Dialer URL: serial://..., vsock://CID:PORT, hvsock://PATH:PORT. */
  endpoint: string;
  /** Where to put the bridge socket grpc-js dials (in the state directory). */
  bridgeSocket: string;
  dialTimeoutMs: number;
  callTimeoutMs: number;
  log: Logger;
}

type PortForwardCall = ClientDuplexStream<agentWire.PortForwardMessage, agentWire.PortForwardMessage>;

/** The bytes of a forwarded connection over its PortForward call, with backpressure both ways. */
class PortForwardStream extends Duplex {
  constructor(private readonly call: PortForwardCall) {
    super({ allowHalfOpen: true });
    call.on('data', (m: agentWire.PortForwardMessage) => {
      if (m.kind?.$case !== 'data') return this.destroy(new MayuError('ERR_AGENT_PROTOCOL', `agent PortForward: only data may follow connected (got ${m.kind?.$case ?? 'nothing'})`));
      if (!this.push(m.kind.data)) call.pause();
    });
    call.on('end', () => this.push(null));
    call.on('error', (err: ServiceError) => {
      if (err.code === status.CANCELLED) this.push(null);
      else this.destroy(fromServiceError(err, 'agent PortForward'));
    });
  }

  override _read(): void {
    this.call.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.call.write({ kind: { $case: 'data', data: chunk } }, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.call.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.call.cancel();
    done(err);
  }
}

/** For calls that wait on the guest (WaitProcess, ReadStdout...): no deadline. */
export const NO_DEADLINE = Infinity;

export interface CallOptions {
  timeoutMs?: number;
  /** Wait for the agent to be reachable instead of failing at once. */
  waitForReady?: boolean;
}

type UnaryMethod<Req, Res> = (req: Req, metadata: Metadata, options: { deadline: Date | number; waitForReady?: boolean }, callback: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * The host's client of the guest agent: every call has a deadline, replies
 * are bounded in size, and wire types are converted to domain types here.
 */
export class AgentClient {
  /** Where replies the guest sent out of bounds are reported (they are clamped, cut or dropped, never trusted). */
  private readonly issues: WireIssueSink;

  private constructor(
    private readonly bridge: AgentBridge | null,
    private readonly grpc: AgentServiceClient,
    private readonly callTimeoutMs: number,
    private readonly dialTimeoutMs: number,
    log: Logger | null,
  ) {
    let reported = 0;
    this.issues = (issue) => {
      // A guest can send bad replies at any rate: the log gets a sample.
      if (log && reported++ % 100 === 0) log.warn({ guestReply: issue, reported }, 'agent reply out of bounds');
    };
  }

  /** Owns the agent connection: listens on `bridgeSocket` and dials the agent for each gRPC connection. */
  static async open(o: AgentClientOptions): Promise<AgentClient> {
    const bridge = new AgentBridge(createDialer(o.endpoint), o.bridgeSocket, o.dialTimeoutMs, o.log.child({ subsystem: 'agent-bridge' }));
    await bridge.listen();
    return new AgentClient(bridge, AgentClient.grpcClient(o.bridgeSocket), o.callTimeoutMs, o.dialTimeoutMs, o.log);
  }

  /**
   * Uses the bridge of the process that owns the sandbox (its monitor, or a
   * shim): each connection becomes one more session to the agent.
   */
  static attach(bridgeSocket: string, timeouts: { dialTimeoutMs: number; callTimeoutMs: number }, log: Logger | null = null): AgentClient {
    return new AgentClient(null, AgentClient.grpcClient(bridgeSocket), timeouts.callTimeoutMs, timeouts.dialTimeoutMs, log);
  }

  private static grpcClient(bridgeSocket: string): AgentServiceClient {
    return new AgentServiceClient(`unix://${bridgeSocket}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
    });
  }

  /** Waits until the agent answers Check with SERVING (dial timeout). */
  async waitReady(): Promise<void> {
    const status = await this.check({ timeoutMs: this.dialTimeoutMs, waitForReady: true });
    if (status !== 'serving') throw new MayuError('ERR_AGENT', `agent is not serving (status ${status})`);
  }

  async check(options: CallOptions = {}): Promise<ServingStatus> {
    const res = await this.unary<agentWire.CheckRequest, agentWire.CheckResponse>('Check', this.grpc.check, { service: '' }, options);
    return servingStatusFromWire(res.status);
  }

  async guestDetails(options: CallOptions = {}): Promise<GuestDetails> {
    const res = await this.unary<agentWire.GetGuestDetailsRequest, agentWire.GuestDetails>('GetGuestDetails', this.grpc.getGuestDetails, {}, options);
    return guestDetailsFromWire(res, this.issues);
  }

  async createSandbox(o: CreateSandboxOptions): Promise<void> {
    await this.unary('CreateSandbox', this.grpc.createSandbox, createSandboxToWire(o), {});
  }

  /** Sets the guest's wall clock (a VM restored from a template has the template's). */
  async setGuestDateTime(at: Date = new Date()): Promise<void> {
    const ms = at.getTime();
    await this.unary('SetGuestDateTime', this.grpc.setGuestDateTime, { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 }, {});
  }

  /** Credits `entropy` (16-512 bytes of the host's CSPRNG) to the guest kernel and reseeds its CRNG. */
  async reseedRandom(entropy: Buffer): Promise<void> {
    await this.unary('ReseedRandom', this.grpc.reseedRandom, { entropy }, {});
  }

  /**
   * Has the guest take what the host grew its VM by: `vcpus` online, and
   * `addedMemoryBytes` beyond its boot memory online (waiting up to
   * `timeoutMs` in the guest; the call's own deadline is that plus the usual).
   */
  async resizeGuest(o: { vcpus: number; addedMemoryBytes: number; timeoutMs: number }): Promise<agentWire.GuestResources> {
    return this.unary<agentWire.ResizeGuestRequest, agentWire.GuestResources>('ResizeGuest', this.grpc.resizeGuest, o, { timeoutMs: o.timeoutMs + this.callTimeoutMs });
  }

  async destroySandbox(): Promise<void> {
    await this.unary('DestroySandbox', this.grpc.destroySandbox, {}, {});
  }

  async createContainer(o: CreateContainerOptions, options: CallOptions = {}): Promise<void> {
    await this.unary('CreateContainer', this.grpc.createContainer, createContainerToWire(o), options);
  }

  async startContainer(containerId: string): Promise<void> {
    await this.unary('StartContainer', this.grpc.startContainer, { containerId }, {});
  }

  async removeContainer(containerId: string, timeoutMs = 0): Promise<void> {
    await this.unary('RemoveContainer', this.grpc.removeContainer, { containerId, timeoutMs }, { timeoutMs: this.callTimeoutMs + timeoutMs });
  }

  /** Changes a container's resource limits (OCI LinuxResources). */
  async updateContainer(containerId: string, resources: unknown): Promise<void> {
    await this.unary('UpdateContainer', this.grpc.updateContainer, { containerId, resourcesJson: Buffer.from(JSON.stringify(resources)) }, {});
  }

  async pauseContainer(containerId: string): Promise<void> {
    await this.unary('PauseContainer', this.grpc.pauseContainer, { containerId }, {});
  }

  async resumeContainer(containerId: string): Promise<void> {
    await this.unary('ResumeContainer', this.grpc.resumeContainer, { containerId }, {});
  }

  async stats(containerId: string): Promise<ContainerStats> {
    return containerStatsFromWire(await this.unary('StatsContainer', this.grpc.statsContainer, { containerId }, {}), this.issues);
  }

  async listProcesses(containerId: string): Promise<ProcessListing[]> {
    const res = await this.unary<agentWire.ListProcessesRequest, agentWire.ListProcessesResponse>('ListProcesses', this.grpc.listProcesses, { containerId }, {});
    return processListingFromWire(res, this.issues);
  }

  async execProcess(o: ExecProcessOptions): Promise<void> {
    await this.unary('ExecProcess', this.grpc.execProcess, execProcessToWire(o), {});
  }

  async signalProcess(ref: ProcessRef, signal: number, all = false): Promise<void> {
    await this.unary('SignalProcess', this.grpc.signalProcess, { ...ref, signal, all }, {});
  }

  /** Waits (without a deadline) for the process to exit. */
  async waitProcess(ref: ProcessRef): Promise<ExitStatus> {
    return exitStatusFromWire(await this.unary('WaitProcess', this.grpc.waitProcess, ref, { timeoutMs: NO_DEADLINE }), this.issues);
  }

  async writeStdin(ref: ProcessRef, data: Buffer): Promise<number> {
    const res = await this.unary<agentWire.WriteStreamRequest, agentWire.WriteStreamResponse>('WriteStdin', this.grpc.writeStdin, { ...ref, data }, {});
    return writeStreamFromWire(res, data.length, this.issues);
  }

  async closeStdin(ref: ProcessRef): Promise<void> {
    await this.unary('CloseStdin', this.grpc.closeStdin, ref, {});
  }

  /** The next output of the process (waits for it); an empty buffer means the stream has ended. */
  async readOutput(ref: ProcessRef, stream: 'stdout' | 'stderr', len = 1 << 20): Promise<Buffer> {
    const method = stream === 'stdout' ? this.grpc.readStdout : this.grpc.readStderr;
    const res = await this.unary<agentWire.ReadStreamRequest, agentWire.ReadStreamResponse>(stream === 'stdout' ? 'ReadStdout' : 'ReadStderr', method, { ...ref, len }, { timeoutMs: NO_DEADLINE });
    // The guest chooses what it sends: never more than was asked for.
    if (res.data.length > len) throw new MayuError('ERR_AGENT_PROTOCOL', `agent Read${stream === 'stdout' ? 'Stdout' : 'Stderr'}: ${res.data.length} bytes for a read of at most ${len}`);
    return Buffer.from(res.data);
  }

  async resizeTty(ref: ProcessRef, rows: number, columns: number): Promise<void> {
    await this.unary('TtyWinResize', this.grpc.ttyWinResize, { ...ref, rows, columns }, {});
  }

  /** Waits (without a deadline) for the next OOM kill in any container of the sandbox. */
  async nextOomEvent(): Promise<string> {
    const res = await this.unary<agentWire.GetOOMEventRequest, agentWire.OOMEvent>('GetOOMEvent', this.grpc.getOomEvent, {}, { timeoutMs: NO_DEADLINE });
    return oomEventFromWire(res, this.issues);
  }

  /** Configures the guest NIC with this interface's MAC (name, MTU, addresses). */
  async updateInterface(i: NetInterface): Promise<void> {
    await this.unary('UpdateInterface', this.grpc.updateInterface, { interface: interfaceToWire(i) }, {});
  }

  async updateRoutes(routes: readonly NetRoute[]): Promise<void> {
    await this.unary('UpdateRoutes', this.grpc.updateRoutes, { routes: { routes: routes.map(routeToWire) } }, {});
  }

  async addArpNeighbors(neighbors: readonly NetNeighbor[]): Promise<void> {
    await this.unary('AddARPNeighbors', this.grpc.addArpNeighbors, { neighbors: neighbors.map(neighborToWire) }, {});
  }

  /**
   * A TCP connection to `port` in the pod, made by the agent (loopback
   * first, then the pod's addresses): resolves once the guest has
   * connected, within the call timeout, with the address that accepted and
   * the connection's bytes as a stream. Ending the stream's write side ends
   * the guest connection's; destroying it cancels the call.
   */
  portForward(port: number): Promise<{ address: string; stream: Duplex }> {
    const call = this.grpc.portForward(new Metadata(), {});
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new MayuError('ERR_AGENT_TIMEOUT', `agent PortForward: no connection to port ${port} within ${this.callTimeoutMs} ms`)), this.callTimeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        call.removeAllListeners('data');
        call.cancel();
        reject(err);
      };
      call.on('error', (err: ServiceError) => fail(fromServiceError(err, 'agent PortForward')));
      call.once('data', (m: agentWire.PortForwardMessage) => {
        if (m.kind?.$case !== 'connected') return fail(new MayuError('ERR_AGENT_PROTOCOL', `agent PortForward: the first reply must be connected (got ${m.kind?.$case ?? 'nothing'})`));
        clearTimeout(timer);
        call.removeAllListeners('error');
        resolve({ address: m.kind.connected.address.slice(0, 64), stream: new PortForwardStream(call) });
      });
      call.write({ kind: { $case: 'open', open: { port } } });
    });
  }

  async metrics(): Promise<string> {
    const res = await this.unary<agentWire.GetMetricsRequest, agentWire.Metrics>('GetMetrics', this.grpc.getMetrics, {}, {});
    return res.text;
  }

  close(): void {
    this.grpc.close();
    this.bridge?.close();
  }

  private unary<Req, Res>(name: string, method: unknown, request: Req, options: CallOptions): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const fn = (method as UnaryMethod<Req, Res>).bind(this.grpc);
    return new Promise<Res>((resolve, reject) => {
      const deadline = timeoutMs === NO_DEADLINE ? Infinity : new Date(Date.now() + timeoutMs);
      fn(request, new Metadata(), { deadline, waitForReady: options.waitForReady }, (err, res) => {
        if (err) {
          const mayu = fromServiceError(err, `agent ${name}`);
          reject(mayu.code === 'ERR_AGENT_TIMEOUT' ? new MayuError('ERR_AGENT_TIMEOUT', `agent ${name}: no answer within ${timeoutMs} ms`, { cause: err }) : mayu);
        } else {
          resolve(res);
        }
      });
    });
  }
}
