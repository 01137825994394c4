import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ttrpcWire } from '@mayu/protocol';

const { Request: WireRequest, Response: WireResponse } = ttrpcWire;
type WireRequest = ttrpcWire.Request;
import { encodeFrame, FrameReader, MAX_DATA_SIZE, MessageType } from './frame.js';
import type { CallContext, MethodDefinition, ServiceDefinition, ServiceImplementation } from './service.js';
import { Code, TtrpcError } from './status.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a handler of any method
type Handler = { method: MethodDefinition<any, any>; fn: (req: never, ctx: CallContext) => Promise<unknown> };
type Status = { code: number; message: string };

/**
 * Maps an error a handler threw to a status; undefined for errors it does
 * not know (they become UNKNOWN). The server's user supplies it for its own
 * error family (the shim: MayuError codes through their one table).
 */
export type StatusMapper = (err: unknown) => Status | undefined;

/** The status for an error a handler threw: a TtrpcError's own, else the mapper's, else UNKNOWN. */
export function statusOf(err: unknown, mapper?: StatusMapper): Status {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message };
  return mapper?.(err) ?? { code: Code.UNKNOWN, message: err instanceof Error ? err.message : String(err) };
}

export interface ServerOptions {
  /** Maps the errors handlers throw to statuses (default: only TtrpcError has a code; anything else is UNKNOWN). */
  statusOf?: StatusMapper;
  /** Called for each call that failed (for logging). */
  onError?: (err: unknown, ctx: { service: string; method: string }) => void;
  /**
   * Decides whether a connection that listen() accepted is served. Called
   * once per connection, synchronously, before any byte is read from it (the
   * socket is accepted paused): return true to serve it; return false, or
   * throw, and it is closed at once, unanswered. Connections handed to
   * serve() directly are not asked. Default: every connection is served.
   */
  authorize?: (socket: Socket) => boolean;
  /**
   * Called for each connection authorize refused, just before it is closed:
   * `err` is what authorize threw, or a PERMISSION_DENIED TtrpcError when it
   * returned false.
   */
  onReject?: (err: unknown, socket: Socket) => void;
  /**
   * Calls one connection may have running at once (default 128). At the
   * bound the server stops reading from the connection, and reads again when
   * a call finishes; a request that was already received while the bound is
   * reached is answered RESOURCE_EXHAUSTED "too many concurrent calls".
   */
  maxConcurrentCalls?: number;
  /**
   * Reply bytes a connection may leave unread (default 16 MiB, four maximal
   * responses): a client that stops reading its replies is disconnected once
   * the bytes waiting to be written to it exceed this, so it cannot make the
   * server's memory grow.
   */
  maxPendingWriteBytes?: number;
  /** Called when a connection is disconnected for maxPendingWriteBytes, with the bytes that were waiting. */
  onWriteBacklog?: (pendingBytes: number, conn: Duplex) => void;
}

export interface ListenOptions {
  /**
   * The socket file's mode (e.g. 0o600). The file is created with it (under
   * a umask that leaves no other bits for the instant of bind(), which is
   * synchronous) and chmod-ed to it before listen() resolves, so no wider
   * mode is ever observable. (The umask is process-wide: a file that a libuv
   * thread creates in that instant gets a narrower mode, never a wider one.)
   * Default: the process umask decides.
   */
  mode?: number;
}

export const DEFAULT_MAX_CONCURRENT_CALLS = 128;
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 16 << 20;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`ServerOptions.${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * A ttrpc server: unary calls only (every RPC containerd makes of a shim is
 * unary). Calls on one connection run concurrently and are answered as they
 * finish. Bad input is answered, never fatal: an unknown service or method
 * is UNIMPLEMENTED, an even or non-increasing stream id, a Data frame or an
 * undecodable request is INVALID_ARGUMENT, an oversized frame is
 * RESOURCE_EXHAUSTED. What one connection may cost is bounded: the calls it
 * has running at once (maxConcurrentCalls) and the reply bytes it leaves
 * unread (maxPendingWriteBytes); who may connect is up to `authorize`.
 */
export class TtrpcServer {
  private readonly handlers = new Map<string, Handler>();
  private readonly connections = new Set<Duplex>();
  private listener: Server | null = null;
  private readonly maxConcurrentCalls: number;
  private readonly maxPendingWriteBytes: number;

  constructor(private readonly options: ServerOptions = {}) {
    this.maxConcurrentCalls = positiveInteger('maxConcurrentCalls', options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS);
    this.maxPendingWriteBytes = positiveInteger('maxPendingWriteBytes', options.maxPendingWriteBytes, DEFAULT_MAX_PENDING_WRITE_BYTES);
  }

  /** Serves `definition`'s methods that `impl` has; the others answer UNIMPLEMENTED. */
  addService<S extends ServiceDefinition>(definition: S, impl: Partial<ServiceImplementation<S>>): void {
    for (const [key, method] of Object.entries(definition.methods)) {
      const fn = (impl as Record<string, Handler['fn']>)[key];
      if (fn) this.handlers.set(`${definition.fullName}/${method.name}`, { method, fn: fn.bind(impl) });
    }
  }

  /** Listens on a Unix socket (replacing a stale file); see ListenOptions for its mode. */
  listen(path: string, options: ListenOptions = {}): Promise<void> {
    const { mode } = options;
    if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o777)) {
      return Promise.reject(new RangeError(`ListenOptions.mode must be a permission mode (0 to 0o777), got ${mode}`));
    }
    rmSync(path, { force: true });
    const listener = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      // bind() happens inside listen(), synchronously: the umask covers it and nothing else.
      const umask = mode === undefined ? undefined : process.umask(0o777 & ~mode);
      try {
        listener.listen(path, () => {
          listener.off('error', reject);
          try {
            if (mode !== undefined) chmodSync(path, mode);
          } catch (err) {
            listener.close();
            reject(err);
            return;
          }
          resolve();
        });
      } finally {
        if (umask !== undefined) process.umask(umask);
      }
    });
  }

  /** A connection listen() accepted (paused): authorized, then served. */
  private accept(socket: Socket): void {
    const { authorize, onReject } = this.options;
    if (authorize) {
      let refusal: unknown;
      try {
        if (authorize(socket) !== true) refusal = new TtrpcError(Code.PERMISSION_DENIED, 'connection refused by authorize');
      } catch (err) {
        refusal = err ?? new TtrpcError(Code.PERMISSION_DENIED, 'connection refused by authorize');
      }
      if (refusal !== undefined) {
        try {
          onReject?.(refusal, socket);
        } finally {
          socket.destroy();
        }
        return;
      }
    }
    this.serve(socket);
  }

  /** Serves one connection until it closes. */
  serve(conn: Duplex): void {
    this.connections.add(conn);
    const reader = new FrameReader();
    const max = this.maxConcurrentCalls;
    let lastStream = 0;
    let running = 0;
    const reply = (streamId: number, status: Status, payload?: Uint8Array): void => this.respond(conn, streamId, status, payload);
    conn.on('data', (chunk: Buffer) => {
      const { frames, oversized } = reader.push(chunk);
      for (const o of oversized) reply(o.streamId, { code: Code.RESOURCE_EXHAUSTED, message: `message of ${o.length} bytes exceeds the 4 MiB limit` });
      for (const frame of frames) {
        if (conn.destroyed) return;
        if (frame.type !== MessageType.Request) {
          reply(frame.streamId, { code: Code.INVALID_ARGUMENT, message: `unexpected frame type ${frame.type} (only unary requests are served)` });
          continue;
        }
        if (frame.streamId % 2 === 0 || frame.streamId <= lastStream) {
          reply(frame.streamId, { code: Code.INVALID_ARGUMENT, message: `stream id ${frame.streamId} must be odd and increasing` });
          continue;
        }
        lastStream = frame.streamId;
        if (running >= max) {
          // Read before the connection was paused (the rest of this chunk).
          reply(frame.streamId, { code: Code.RESOURCE_EXHAUSTED, message: 'too many concurrent calls' });
          continue;
        }
        if (++running >= max) conn.pause();
        void this.handle(frame.data).then(({ status, payload }) => {
          running--;
          reply(frame.streamId, status, payload);
          if (running < max && conn.isPaused()) conn.resume();
        });
      }
    });
    conn.on('error', () => {});
    conn.once('close', () => this.connections.delete(conn));
    // listen() accepts connections paused (for authorize); a 'data' listener does not resume those.
    conn.resume();
  }

  /**
   * Writes one response, unless the connection is gone; then disconnects it
   * if the replies it left unread passed maxPendingWriteBytes.
   */
  private respond(conn: Duplex, streamId: number, status: Status, payload: Uint8Array = new Uint8Array()): void {
    if (conn.destroyed || !conn.writable) return;
    let body = WireResponse.encode({ status: status.code === Code.OK ? undefined : { code: status.code, message: status.message, details: [] }, payload: Buffer.from(payload) }).finish();
    if (body.length > MAX_DATA_SIZE) {
      body = WireResponse.encode({ status: { code: Code.RESOURCE_EXHAUSTED, message: `response of ${body.length} bytes exceeds the 4 MiB limit`, details: [] }, payload: Buffer.alloc(0) }).finish();
    }
    conn.write(encodeFrame(streamId, MessageType.Response, body));
    const pending = conn.writableLength;
    if (pending <= this.maxPendingWriteBytes) return;
    conn.destroy();
    this.options.onWriteBacklog?.(pending, conn);
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.listener?.close();
    this.listener = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private async handle(data: Buffer): Promise<{ status: Status; payload?: Uint8Array }> {
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
      return { status: statusOf(err, this.options.statusOf) };
    } finally {
      clearTimeout(timer);
    }
  }
}
