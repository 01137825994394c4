import type { Duplex } from 'node:stream';
import { CHANNEL_PROTOCOL_VERSION, encodeFrame, FrameType, type Frame } from './frame.js';
import { ChannelEndpoint } from './channel-endpoint.js';
import type { SessionStream } from './session-stream.js';

/**
 * The guest's end of a serial channel. Each Hello from the host starts a new
 * session (the previous one is destroyed) and is answered with Welcome. The
 * host repeats Hello until it hears Welcome, so a Hello for the session that
 * is already current is only answered again.
 *
 * Events: 'session' (stream: SessionStream) for every new session.
 */
export class GuestChannel extends ChannelEndpoint {
  /** Uses `port` as the link, e.g. after the port was reopened. */
  attach(port: Duplex): void {
    this.attachLink(port);
  }

  /** The port is gone (the host disconnected): the current session ends. */
  detach(): void {
    this.detachLink();
  }

  get currentSession(): SessionStream | null {
    return this.current;
  }

  protected onFrame(frame: Frame): void {
    if (frame.type === FrameType.Hello) {
      const repeated = this.current?.session === frame.session;
      const stream = repeated ? null : this.newSession(frame.session);
      const version = Buffer.alloc(4);
      version.writeUInt32BE(CHANNEL_PROTOCOL_VERSION);
      this.send([encodeFrame(FrameType.Welcome, frame.session, version)], () => {});
      if (stream) this.emit('session', stream);
    } else if (frame.type === FrameType.Data || frame.type === FrameType.Close) {
      this.routeToSession(frame);
    } else {
      this.staleFrames++;
    }
  }
}
