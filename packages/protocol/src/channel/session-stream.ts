import { Duplex } from 'node:stream';
import { encodeData, encodeFrame, FrameType } from './frame.js';

/** Writes frames to the underlying link; the callback fires once they are flushed. */
export type FrameSink = (frames: Buffer[], done: (err?: Error | null) => void) => void;

/**
 * One session of a serial channel as a Duplex: what is written goes out as
 * Data frames, what arrives for this session is pushed to readers. Close is a
 * half-close, like a TCP FIN: ending the writable side (or destroying the
 * stream) sends it, and a Close from the peer ends the readable side. Once
 * both directions have ended the stream destroys itself.
 */
export class SessionStream extends Duplex {
  private closeSent = false;
  private peerEnded = false;

  constructor(
    readonly session: number,
    private readonly sink: FrameSink,
    private readonly onReadWanted: () => void,
    private readonly onGone: (stream: SessionStream) => void,
  ) {
    super({ allowHalfOpen: false });
  }

  /** Delivers payload that arrived for this session; false means "stop reading". */
  deliver(payload: Buffer): boolean {
    if (this.destroyed || this.peerEnded) return true;
    return this.push(payload);
  }

  /** The peer will send no more. */
  peerClosed(): void {
    if (this.peerEnded) return;
    this.peerEnded = true;
    this.push(null);
  }

  override _read(): void {
    this.onReadWanted();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.sink(encodeData(this.session, chunk), done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.sink(encodeData(this.session, Buffer.concat(chunks.map((c) => c.chunk))), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.sendClose();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.sendClose();
    this.onGone(this);
    done(err);
  }

  private sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.sink([encodeFrame(FrameType.Close, this.session)], () => {});
  }
}
