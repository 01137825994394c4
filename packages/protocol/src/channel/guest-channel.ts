import type { Duplex } from 'node:stream';
import { CHANNEL_PROTOCOL_VERSION, encodeFrame, FrameType, type Frame } from './frame.js';
import { ChannelEndpoint } from './channel-endpoint.js';
import type { SessionStream } from './session-stream.js';

/**
 * The guest's end of a serial channel. A Hello carries the host link's
 * epoch (chosen per host connection) and a session id: a new epoch means a
 * new host, so every session of the old one is closed; a new session id opens
 * a session beside the others. Hello is answered with Welcome; the host
 * repeats Hello until it hears Welcome, so a repeated Hello is only answered.
 *
 * Events: 'session' (stream: SessionStream) for every new session.
 */
export class GuestChannel extends ChannelEndpoint {
  private epoch: number | null = null;

  /** Uses `port` as the link, e.g. after the port was reopened. */
  attach(port: Duplex): void {
    this.attachLink(port);
  }

  /** The port is gone (the host disconnected): its sessions end. */
  detach(): void {
    this.detachLink();
    this.epoch = null;
  }

  get hostEpoch(): number | null {
    return this.epoch;
  }

  sessionById(id: number): SessionStream | undefined {
    return this.sessions.get(id);
  }

  protected onFrame(frame: Frame): void {
    if (frame.type === FrameType.Hello) {
      const epoch = frame.payload.length >= 8 ? frame.payload.readUInt32BE(4) : 0;
      if (epoch !== this.epoch) {
        this.closeAllSessions();
        this.epoch = epoch;
      }
      const stream = this.sessions.has(frame.session) ? null : this.newSession(frame.session);
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
