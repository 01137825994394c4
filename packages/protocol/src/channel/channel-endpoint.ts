import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder, FrameType, type Frame } from './frame.js';
import { SessionStream } from './session-stream.js';

/**
 * One end of a serial channel: a raw byte link (a virtio-serial port in the
 * guest, QEMU's chardev socket on the host) carrying sessions in frames. At
 * most one session is current; frames of any other session are dropped.
 * Subclasses decide how sessions begin (guest: on Hello; host: it sends Hello).
 *
 * Events: 'close' when the link has ended.
 */
export abstract class ChannelEndpoint extends EventEmitter {
  protected current: SessionStream | null = null;
  protected link: Duplex | null = null;
  private readonly decoder = new FrameDecoder();
  /** Frames dropped because they belonged to no current session. */
  staleFrames = 0;

  get discardedBytes(): number {
    return this.decoder.discardedBytes;
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

  /** Stops using the current link and ends the current session with it. */
  protected detachLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.off('data', this.onData);
    link.off('close', this.onLinkClose);
    link.off('error', this.onLinkError);
    this.current?.destroy();
    this.current = null;
  }

  protected abstract onFrame(frame: Frame): void;

  protected newSession(id: number): SessionStream {
    this.current?.destroy();
    const link = this.link;
    const stream = new SessionStream(
      id,
      (frames, done) => this.send(frames, done),
      () => link?.resume(),
      (gone) => {
        if (this.current === gone) this.current = null;
      },
    );
    this.current = stream;
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

  /** Routes a Data or Close frame to the current session, or drops it. */
  protected routeToSession(frame: Frame): void {
    const session = this.current;
    if (!session || session.session !== frame.session) {
      this.staleFrames++;
      return;
    }
    if (frame.type === FrameType.Close) {
      session.peerClosed();
    } else if (!session.deliver(frame.payload)) {
      this.link?.pause();
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
