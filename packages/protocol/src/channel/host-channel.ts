import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { MayuError } from '../errors/mayu-error.js';
import { CHANNEL_PROTOCOL_VERSION, encodeFrame, FrameType, type Frame } from './frame.js';
import { ChannelEndpoint } from './channel-endpoint.js';
import type { SessionStream } from './session-stream.js';

interface PendingHello {
  session: number;
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
export const HELLO_RESEND_MS = 200;

/**
 * The host's end of a serial channel, over one persistent connection to the
 * hypervisor's chardev socket. `openSession()` starts a fresh session; until
 * the guest's Welcome for it arrives, every byte is stale and dropped.
 */
export class HostChannel extends ChannelEndpoint {
  private pending: PendingHello | null = null;

  constructor(link: Duplex) {
    super();
    this.attachLink(link);
    this.once('close', () => this.failPending(new MayuError('ERR_UNAVAILABLE', 'serial channel closed')));
  }

  get connected(): boolean {
    return this.link !== null;
  }

  /** Starts a new session, superseding the current one. */
  openSession(timeoutMs: number): Promise<SessionStream> {
    if (!this.link) return Promise.reject(new MayuError('ERR_UNAVAILABLE', 'serial channel closed'));
    this.current?.destroy();
    this.failPending(new MayuError('ERR_UNAVAILABLE', 'superseded by a newer session'));
    const session = randomInt(1, 2 ** 32 - 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failPending(
          new MayuError('ERR_AGENT_TIMEOUT', `no answer from the guest within ${timeoutMs} ms`, {
            details: { timeoutMs },
          }),
        );
      }, timeoutMs);
      const version = Buffer.alloc(4);
      version.writeUInt32BE(CHANNEL_PROTOCOL_VERSION);
      const hello = (): void =>
        this.send([encodeFrame(FrameType.Hello, session, version)], (err) => {
          if (err) this.failPending(err);
        });
      this.pending = { session, resolve, reject, timer, resend: setInterval(hello, HELLO_RESEND_MS) };
      hello();
    });
  }

  /** Ends the current session and releases the link. */
  close(): void {
    this.failPending(new MayuError('ERR_UNAVAILABLE', 'serial channel closed'));
    const link = this.link;
    this.detachLink();
    link?.on('error', () => {});
    link?.destroy();
    this.emit('close');
  }

  protected onFrame(frame: Frame): void {
    const pending = this.pending;
    if (frame.type === FrameType.Welcome && pending && pending.session === frame.session) {
      clearTimeout(pending.timer);
      clearInterval(pending.resend);
      this.pending = null;
      pending.resolve(this.newSession(frame.session));
    } else if (frame.type === FrameType.Data || frame.type === FrameType.Close) {
      this.routeToSession(frame);
    } else {
      this.staleFrames++;
    }
  }

  private failPending(err: Error): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    clearTimeout(pending.timer);
    clearInterval(pending.resend);
    pending.reject(err);
  }
}
