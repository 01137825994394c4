import type { Socket } from 'node:net';
import { VsockServer, type VsockAddress } from '@mayu/vsock';
import type { Logger } from 'pino';

/** Serves connections on a vsock port (any CID: the host's, or loopback). */
export class VsockListener {
  private readonly server = new VsockServer();

  constructor(
    readonly port: number,
    private readonly log: Logger,
    private readonly onConnection: (socket: Socket) => void,
  ) {}

  /** Starts listening; returns false when the guest has no AF_VSOCK. */
  start(): boolean {
    try {
      this.server.listen(this.port);
    } catch (err) {
      this.log.info({ err, port: this.port }, 'not listening on vsock');
      return false;
    }
    this.server.on('connection', (socket: Socket, peer: VsockAddress) => {
      this.log.debug({ peer }, 'vsock connection');
      this.onConnection(socket);
    });
    this.server.on('error', (err: Error) => this.log.warn({ err }, 'vsock accept failed'));
    return true;
  }

  stop(): void {
    this.server.close();
  }
}
