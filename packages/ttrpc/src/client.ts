import { connect, type Socket } from 'node:net';
import { ttrpcWire } from '@mayu/protocol';
import { encodeFrame, FrameReader, MAX_DATA_SIZE, MessageType } from './frame.js';
import type { ServiceClient, ServiceDefinition } from './service.js';
import { Code, TtrpcError } from './status.js';

const { Request: WireRequest, Response: WireResponse } = ttrpcWire;
type WireResponse = ttrpcWire.Response;

interface Pending {
  resolve: (payload: Uint8Array) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/** A ttrpc client over one connection: odd, increasing stream ids; many calls at once. */
export class TtrpcClient {
  private nextStream = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private closed = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.once('close', () => this.failAll(new TtrpcError(Code.UNAVAILABLE, 'ttrpc connection closed')));
  }

  static connect(path: string, timeoutMs = 5000): Promise<TtrpcClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TtrpcError(Code.UNAVAILABLE, `no connection to ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TtrpcClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new TtrpcError(Code.UNAVAILABLE, `cannot connect to ${path}: ${err.message}`));
      });
    });
  }

  /** One unary call; rejects with TtrpcError carrying the server's status code. */
  call(service: string, method: string, payload: Uint8Array, options: { timeoutMs?: number; metadata?: Record<string, string> } = {}): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new TtrpcError(Code.UNAVAILABLE, 'ttrpc connection closed'));
    const streamId = this.nextStream;
    this.nextStream += 2;
    const timeoutMs = options.timeoutMs ?? 0;
    const body = WireRequest.encode({
      service,
      method,
      payload: Buffer.from(payload),
      timeoutNano: timeoutMs > 0 ? Math.round(timeoutMs * 1e6) : 0,
      metadata: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    }).finish();
    if (body.length > MAX_DATA_SIZE) {
      return Promise.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, `${service}/${method}: request of ${body.length} bytes exceeds the 4 MiB limit`));
    }
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(streamId);
          reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `${service}/${method}: no answer within ${timeoutMs} ms`));
        }, timeoutMs + 1000);
      }
      this.pending.set(streamId, entry);
      this.socket.write(encodeFrame(streamId, MessageType.Request, body));
    });
  }

  /** A typed client for a generated service definition. */
  service<S extends ServiceDefinition>(definition: S): ServiceClient<S> {
    const client: Record<string, unknown> = {};
    for (const [key, m] of Object.entries(definition.methods)) {
      client[key] = async (request: unknown, options?: { timeoutMs?: number; metadata?: Record<string, string> }) => {
        const payload = (m.requestType as { encode(r: unknown): { finish(): Uint8Array } }).encode(request).finish();
        return m.responseType.decode(await this.call(definition.fullName, m.name, payload, options));
      };
    }
    return client as ServiceClient<S>;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const { frames } = this.reader.push(chunk);
    for (const frame of frames) {
      const pending = this.pending.get(frame.streamId);
      if (!pending || frame.type !== MessageType.Response) continue;
      this.pending.delete(frame.streamId);
      clearTimeout(pending.timer);
      let response: WireResponse;
      try {
        response = WireResponse.decode(frame.data);
      } catch (err) {
        pending.reject(new TtrpcError(Code.INTERNAL, `undecodable ttrpc response: ${(err as Error).message}`));
        continue;
      }
      if (response.status && response.status.code !== Code.OK) pending.reject(new TtrpcError(response.status.code, response.status.message));
      else pending.resolve(response.payload);
    }
  }

  private failAll(err: Error): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }
}
