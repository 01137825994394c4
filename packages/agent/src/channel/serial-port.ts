import { constants, openSync, readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { GuestChannel, type SessionStream } from '@mayu/protocol';
import { socketFromFd } from '@mayu/vsock';
import type { Logger } from 'pino';
import { uptimeMs } from '../boot/uptime.js';

/** Finds the device node of the virtio-serial port named `name` (no udev in the guest). */
export function findSerialPort(name: string, sysPorts = '/sys/class/virtio-ports'): string | null {
  let entries: string[];
  try {
    entries = readdirSync(sysPorts);
  } catch {
    return null;
  }
  for (const entry of entries) {
    try {
      if (readFileSync(`${sysPorts}/${entry}/name`, 'utf8').trim() === name) return `/dev/${entry}`;
    } catch {
      // a port without a name
    }
  }
  return null;
}

/** How long to wait before reopening the port after the host went away. */
const REOPEN_DELAY_MS = 50;

/**
 * Serves sessions on a virtio-serial port. While no host is connected, a read
 * of the port returns end-of-file at once; the listener then closes the port
 * and reopens it shortly after, so that it is reading again when a host
 * connects. Sessions are framed (see @mayu/protocol's channel): stale bytes
 * of an earlier host connection never reach a new session.
 */
export class SerialPortListener {
  readonly channel = new GuestChannel();
  private port: Socket | null = null;
  private reopenTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    readonly device: string,
    private readonly log: Logger,
    onSession: (stream: SessionStream) => void,
  ) {
    this.channel.on('session', (stream: SessionStream) => {
      this.log.debug({ session: stream.session, staleFrames: this.channel.staleFrames, discardedBytes: this.channel.discardedBytes, uptimeMs: uptimeMs() }, 'host opened a session');
      onSession(stream);
    });
  }

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.channel.detach();
    this.port?.destroy();
    this.port = null;
  }

  private open(): void {
    if (this.stopped) return;
    let port: Socket;
    try {
      const fd = openSync(this.device, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
      port = socketFromFd(fd);
    } catch (err) {
      this.log.warn({ err, device: this.device }, 'cannot open the serial port; retrying');
      this.scheduleReopen(1000);
      return;
    }
    this.port = port;
    port.on('error', (err) => this.log.debug({ err }, 'serial port error'));
    port.once('close', () => {
      if (this.port !== port) return;
      this.port = null;
      this.channel.detach();
      this.scheduleReopen(REOPEN_DELAY_MS);
    });
    // End of file: no host is connected (any more).
    port.once('end', () => port.destroy());
    this.channel.attach(port);
  }

  private scheduleReopen(delayMs: number): void {
    if (this.stopped || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.open();
    }, delayMs);
  }
}
