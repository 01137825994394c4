import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder, FrameType, type Frame } from './frame.js';
import { SessionStream } from './session-stream.js';

/**
 * What a session may hold unread before it is dropped: its peer ignored flow
 * control (HTTP/2 keeps far less in flight).
 */
export const MAX_SESSION_BUFFER = 8 * 1024 * 1024;

/**
 * One end of a serial channel: a raw byte link (a virtio-serial port in the
 * guest, QEMU's chardev socket on the host) carrying sessions in frames.
 * Several sessions may be open at once; frames of unknown sessions are
 * dropped. Subclasses decide how sessions begin (guest: on Hello; host: it
 * sends Hello).
 *
 * Events: 'close' when the link has ended.
 */
export abstract class ChannelEndpoint extends EventEmitter {
  protected readonly sessions = new Map<number, SessionStream>();
  protected link: Duplex | null = null;
  private readonly decoder = new FrameDecoder();
  /** Frames dropped because they belonged to no open session. */
  staleFrames = 0;

  get discardedBytes(): number {
    return this.decoder.discardedBytes;
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Starts reading frames from `link`; a previous link is released first. */
  protected attachLink(link: Duplex): void {
    this.detachLink();
    this.link = link;
    this.decoder.reset();
    link.on('data', this.onData);
    link.once('close', this.onLinkClose);
    link.on('error', this.onLinkError);
  }

  /** Stops using the current link and ends every session on it. */
  protected detachLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.off('data', this.onData);
    link.off('close', this.onLinkClose);
    link.off('error', this.onLinkError);
    this.closeAllSessions();
  }

  protected closeAllSessions(): void {
    for (const s of [...this.sessions.values()]) s.destroy();
    this.sessions.clear();
  }

  protected abstract onFrame(frame: Frame): void;

  protected newSession(id: number): SessionStream {
    this.sessions.get(id)?.destroy();
    const stream = new SessionStream(
      id,
      (frames, done) => this.send(frames, done),
      () => {},
      (gone) => {
        if (this.sessions.get(gone.session) === gone) this.sessions.delete(gone.session);
      },
    );
    // A session destroyed (say, for holding too much unread data) before its
    // user listens must not crash the process with an unhandled 'error'.
    stream.on('error', () => {});
    this.sessions.set(id, stream);
    return stream;
  }

  protected send(frames: Buffer[], done: (err?: Error | null) => void): void {
    const link = this.link;
    if (!link || link.destroyed || !link.writable) {
      done(new Error('serial channel link is not connected'));
      return;
    }
    for (let i = 0; i < frames.length - 1; i++) link.write(frames[i]);
    link.write(frames[frames.length - 1], (err) => done(err ?? null));
  }

  /** Routes a Data or Close frame to its session, or drops it. */
  protected routeToSession(frame: Frame): void {
    const session = this.sessions.get(frame.session);
    if (!session) {
      this.staleFrames++;
      return;
    }
    if (frame.type === FrameType.Close) {
      session.peerClosed();
      return;
    }
    session.deliver(frame.payload);
    if (session.readableLength > MAX_SESSION_BUFFER) {
      session.destroy(new Error(`session ${frame.session} exceeded ${MAX_SESSION_BUFFER} unread bytes`));
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
  };

  private readonly onLinkClose = (): void => {
    this.detachLink();
    this.emit('close');
  };

  private readonly onLinkError = (err: Error): void => {
    this.emit('link-error', err);
  };
}
