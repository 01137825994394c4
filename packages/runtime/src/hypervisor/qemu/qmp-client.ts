import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { MayuError } from '@mayu/protocol';

/** A QMP event: {event, data?, timestamp}. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A line from QEMU longer than this is a protocol error (QEMU's own replies are small). */
const MAX_LINE_BYTES = 1 << 20;

/**
 * A QMP client: greeting, capabilities negotiation, commands matched to
 * replies by id, events emitted as 'event' (QmpEvent) and by name.
 * Emits 'close' when QEMU closes the socket.
 */
export class QmpClient extends EventEmitter {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private greeting: ((greeting: Record<string, unknown>) => void) | null = null;
  version: { major: number; minor: number; micro: number } | null = null;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => {});
  }

  /** Connects to a QMP socket and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const client = new QmpClient(socket);
    try {
      const greeting = await client.withTimeout(new Promise<Record<string, unknown>>((resolve) => (client.greeting = resolve)), timeoutMs, 'QMP greeting');
      const qmp = greeting.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } } | undefined;
      client.version = qmp?.version?.qemu ?? null;
      await client.execute('qmp_capabilities', undefined, timeoutMs);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Runs a command; resolves with its `return` value, rejects with ERR_QMP on `error`. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<T> {
    if (this.closed) return Promise.reject(new MayuError('ERR_QMP', `QMP ${command}: connection closed`));
    const id = this.nextId++;
    const message = JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id });
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MayuError('ERR_QMP', `QMP ${command}: no reply within ${timeoutMs} ms`, { details: { command } }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${message}\n`);
    });
  }

  /** Resolves with the next event named `name` (or rejects after `timeoutMs`). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    return this.withTimeout(new Promise<QmpEvent>((resolve) => this.once(name, resolve)), timeoutMs, `QMP event ${name}`);
  }

  close(): void {
    this.socket.destroy();
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MayuError('ERR_QMP', `${what}: nothing within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.emit('protocol-error', new MayuError('ERR_QMP', 'QMP message exceeds 1 MiB'));
      this.close();
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.emit('protocol-error', new MayuError('ERR_QMP', `QMP sent invalid JSON: ${line.slice(0, 80)}`));
      return;
    }
    if ('QMP' in msg) {
      this.greeting?.(msg);
      this.greeting = null;
    } else if ('event' in msg) {
      const event = msg as unknown as QmpEvent;
      this.emit('event', event);
      this.emit(event.event, event);
    } else if ('return' in msg || 'error' in msg) {
      const pending = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
      if (!pending) return;
      this.pending.delete(msg.id as number);
      clearTimeout(pending.timer);
      if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        pending.reject(
          new MayuError('ERR_QMP', `QMP ${pending.command}: ${e.class ?? 'Error'}: ${e.desc ?? ''}`, {
            details: { command: pending.command, class: e.class },
          }),
        );
      } else {
        pending.resolve(msg.return);
      }
    }
  }

  private onClose(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new MayuError('ERR_QMP', `QMP ${p.command}: connection closed`));
      this.pending.delete(id);
    }
    this.emit('close');
  }
}
