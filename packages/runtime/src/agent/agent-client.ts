import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  AgentServiceClient,
  agentWire,
  fromServiceError,
  guestDetailsFromWire,
  MayuError,
  servingStatusFromWire,
  type GuestDetails,
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

export interface CallOptions {
  timeoutMs?: number;
  /** Wait for the agent to be reachable instead of failing at once. */
  waitForReady?: boolean;
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date; waitForReady?: boolean },
  callback: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * The host's client of the guest agent: every call has a deadline, replies
 * are bounded in size, and wire types are converted to domain types here.
 */
export class AgentClient {
  private constructor(
    private readonly bridge: AgentBridge,
    private readonly grpc: AgentServiceClient,
    private readonly callTimeoutMs: number,
    private readonly dialTimeoutMs: number,
  ) {}

  static async open(o: AgentClientOptions): Promise<AgentClient> {
    const bridge = new AgentBridge(createDialer(o.endpoint), o.bridgeSocket, o.dialTimeoutMs, o.log.child({ subsystem: 'agent-bridge' }));
    await bridge.listen();
    const grpc = new AgentServiceClient(`unix://${o.bridgeSocket}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
    });
    return new AgentClient(bridge, grpc, o.callTimeoutMs, o.dialTimeoutMs);
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
    return guestDetailsFromWire(res);
  }

  close(): void {
    this.grpc.close();
    this.bridge.close();
  }

  private unary<Req, Res>(name: string, method: unknown, request: Req, options: CallOptions): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const fn = (method as UnaryMethod<Req, Res>).bind(this.grpc);
    return new Promise<Res>((resolve, reject) => {
      fn(request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs), waitForReady: options.waitForReady }, (err, res) => {
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
