import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GRPC_STATUS_OF, isMayuError, ttrpcWire } from '@mayu/protocol';

const { Request: WireRequest, Response: WireResponse } = ttrpcWire;
type WireRequest = ttrpcWire.Request;
import { encodeFrame, FrameReader, MAX_DATA_SIZE, MessageType } from './frame.js';
import type { CallContext, MethodDefinition, ServiceDefinition, ServiceImplementation } from './service.js';
import { Code, TtrpcError } from './status.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a handler of any method
type Handler = { method: MethodDefinition<any, any>; fn: (req: never, ctx: CallContext) => Promise<unknown> };

/** The gRPC status for an error a handler threw. */
export function statusOf(err: unknown): { code: number; message: string } {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message };
  if (isMayuError(err)) return { code: GRPC_STATUS_OF[err.code], message: err.message };
  return { code: Code.UNKNOWN, message: err instanceof Error ? err.message : String(err) };
}

export interface ServerOptions {
  /** Called for each call that failed (for logging). */
  onError?: (err: unknown, ctx: { service: string; method: string }) => void;
}

/**
 * A ttrpc server: unary calls only (every RPC containerd makes of a shim is
 * unary). Calls on one connection run concurrently and are answered as they
 * finish. Bad input is answered, never fatal: an unknown service or method
 * is UNIMPLEMENTED, an even or non-increasing stream id, a Data frame or an
 * undecodable request is INVALID_ARGUMENT, an oversized frame is
 * RESOURCE_EXHAUSTED.
 */
export class TtrpcServer {
  private readonly handlers = new Map<string, Handler>();
  private readonly connections = new Set<Duplex>();
  private listener: Server | null = null;

  constructor(private readonly options: ServerOptions = {}) {}

  /** Serves `definition`'s methods that `impl` has; the others answer UNIMPLEMENTED. */
  addService<S extends ServiceDefinition>(definition: S, impl: Partial<ServiceImplementation<S>>): void {
    for (const [key, method] of Object.entries(definition.methods)) {
      const fn = (impl as Record<string, Handler['fn']>)[key];
      if (fn) this.handlers.set(`${definition.fullName}/${method.name}`, { method, fn: fn.bind(impl) });
    }
  }

  /** Listens on a Unix socket (replacing a stale file). */
  listen(path: string): Promise<void> {
    rmSync(path, { force: true });
    const listener = createServer((socket) => this.serve(socket));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(path, () => {
        listener.off('error', reject);
        resolve();
      });
    });
  }

  /** Serves one connection until it closes. */
  serve(conn: Duplex): void {
    this.connections.add(conn);
    const reader = new FrameReader();
    let lastStream = 0;
    const reply = (streamId: number, status: { code: number; message: string }, payload: Uint8Array = new Uint8Array()): void => {
      if (conn.destroyed || !conn.writable) return;
      let body = WireResponse.encode({ status: status.code === Code.OK ? undefined : { code: status.code, message: status.message, details: [] }, payload: Buffer.from(payload) }).finish();
      if (body.length > MAX_DATA_SIZE) {
        body = WireResponse.encode({ status: { code: Code.RESOURCE_EXHAUSTED, message: `response of ${body.length} bytes exceeds the 4 MiB limit`, details: [] }, payload: Buffer.alloc(0) }).finish();
      }
      conn.write(encodeFrame(streamId, MessageType.Response, body));
    };
    conn.on('data', (chunk: Buffer) => {
      const { frames, oversized } = reader.push(chunk);
      for (const o of oversized) reply(o.streamId, { code: Code.RESOURCE_EXHAUSTED, message: `message of ${o.length} bytes exceeds the 4 MiB limit` });
      for (const frame of frames) {
        if (frame.type !== MessageType.Request) {
          reply(frame.streamId, { code: Code.INVALID_ARGUMENT, message: `unexpected frame type ${frame.type} (only unary requests are served)` });
          continue;
        }
        if (frame.streamId % 2 === 0 || frame.streamId <= lastStream) {
          reply(frame.streamId, { code: Code.INVALID_ARGUMENT, message: `stream id ${frame.streamId} must be odd and increasing` });
          continue;
        }
        lastStream = frame.streamId;
        void this.handle(frame.data).then(({ status, payload }) => reply(frame.streamId, status, payload));
      }
    });
    conn.on('error', () => {});
    conn.once('close', () => this.connections.delete(conn));
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.listener?.close();
    this.listener = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private async handle(data: Buffer): Promise<{ status: { code: number; message: string }; payload?: Uint8Array }> {
    let request: WireRequest;
    try {
      request = WireRequest.decode(data);
    } catch (err) {
      return { status: { code: Code.INVALID_ARGUMENT, message: `undecodable ttrpc request: ${(err as Error).message}` } };
    }
    const handler = this.handlers.get(`${request.service}/${request.method}`);
    if (!handler) return { status: { code: Code.UNIMPLEMENTED, message: `${request.service}/${request.method} is not implemented` } };
    let input: never;
    try {
      input = handler.method.requestType.decode(request.payload) as never;
    } catch (err) {
      return { status: { code: Code.INVALID_ARGUMENT, message: `undecodable ${request.method} request: ${(err as Error).message}` } };
    }
    const metadata: Record<string, string[]> = {};
    for (const kv of request.metadata) (metadata[kv.key] ??= []).push(kv.value);
    const abort = new AbortController();
    const timeoutMs = request.timeoutNano > 0 ? request.timeoutNano / 1e6 : 0;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          abort.abort();
          reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `${request.method}: deadline of ${timeoutMs} ms exceeded`));
        }, timeoutMs);
      }
    });
    try {
      const result = await Promise.race([handler.fn(input, { service: request.service, method: request.method, metadata, signal: abort.signal }), deadline]);
      return { status: { code: Code.OK, message: '' }, payload: (handler.method.responseType as { encode(m: unknown): { finish(): Uint8Array } }).encode(result).finish() };
    } catch (err) {
      this.options.onError?.(err, { service: request.service, method: request.method });
      return { status: statusOf(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
