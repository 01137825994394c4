import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { MayuError } from '../errors/mayu-error.js';
import { CHANNEL_PROTOCOL_VERSION, encodeFrame, FrameType, type Frame } from './frame.js';
import { ChannelEndpoint } from './channel-endpoint.js';
import type { SessionStream } from './session-stream.js';

interface PendingHello {
  resolve: (stream: SessionStream) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  resend: NodeJS.Timeout;
}

/**
 * Hello is repeated this often until Welcome arrives: a guest that is just
 * reopening its port (after the previous host left) discards what was
 * buffered for the old open, so one Hello can be lost.
 */
export const HELLO_RESEND_MS = 50;

const closedError = (): MayuError => new MayuError('ERR_UNAVAILABLE', 'serial channel closed');

/**
 * The host's end of a serial channel, over one persistent connection to the
 * hypervisor's chardev socket. The connection has a random epoch: the guest
 * drops the sessions of any earlier host when it sees a new one. Each
 * `openSession()` opens one more session; until the guest's Welcome for it
 * arrives, bytes for it are dropped.
 */
export class HostChannel extends ChannelEndpoint {
  readonly epoch = randomInt(1, 2 ** 32 - 1);
  private readonly pending = new Map<number, PendingHello>();

  constructor(link: Duplex) {
    super();
    this.attachLink(link);
    this.once('close', () => this.failAll(closedError()));
  }

  get connected(): boolean {
    return this.link !== null;
  }

  openSession(timeoutMs: number): Promise<SessionStream> {
    if (!this.link) return Promise.reject(closedError());
    let session = randomInt(1, 2 ** 32 - 1);
    while (this.sessions.has(session) || this.pending.has(session)) session = randomInt(1, 2 ** 32 - 1);
    return new Promise((resolve, reject) => {
      const hello = Buffer.alloc(8);
      hello.writeUInt32BE(CHANNEL_PROTOCOL_VERSION, 0);
      hello.writeUInt32BE(this.epoch, 4);
      const sendHello = (): void =>
        this.send([encodeFrame(FrameType.Hello, session, hello)], (err) => {
          if (err) this.fail(session, err);
        });
      const timer = setTimeout(() => this.fail(session, new MayuError('ERR_AGENT_TIMEOUT', `no answer from the guest within ${timeoutMs} ms`, { details: { timeoutMs } })), timeoutMs);
      this.pending.set(session, { resolve, reject, timer, resend: setInterval(sendHello, HELLO_RESEND_MS) });
      sendHello();
    });
  }

  /** Ends every session and releases the link. */
  close(): void {
    this.failAll(closedError());
    const link = this.link;
    this.detachLink();
    link?.on('error', () => {});
    link?.destroy();
    this.emit('close');
  }

  protected onFrame(frame: Frame): void {
    const pending = this.pending.get(frame.session);
    if (frame.type === FrameType.Welcome && pending) {
      this.clear(frame.session, pending);
      pending.resolve(this.newSession(frame.session));
    } else if (frame.type === FrameType.Data || frame.type === FrameType.Close) {
      this.routeToSession(frame);
    } else {
      this.staleFrames++;
    }
  }

  private fail(session: number, err: Error): void {
    const pending = this.pending.get(session);
    if (!pending) return;
    this.clear(session, pending);
    pending.reject(err);
  }

  private failAll(err: Error): void {
    for (const session of [...this.pending.keys()]) this.fail(session, err);
  }

  private clear(session: number, pending: PendingHello): void {
    this.pending.delete(session);
    clearTimeout(pending.timer);
    clearInterval(pending.resend);
  }
}
