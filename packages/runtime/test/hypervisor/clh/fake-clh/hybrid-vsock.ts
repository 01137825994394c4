import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** How long a CONNECT waits for the guest (a real CH gives up after about 2 s). */
const GUEST_ACCEPT_MS = 2000;
/** A CONNECT line longer than this closes the connection. */
const MAX_LINE = 32;

/**
 * The host side of the fake's hybrid vsock: a Unix socket that takes
 * `CONNECT <port>\n` (keyword in any case, spaces trimmed, 32 bytes at
 * most), asks the "guest" listener of that port, and answers
 * `OK <hostport>\n` (host ports from 2^30 up) before piping bytes both ways.
 * A port nobody listens on is closed without an OK, as a guest RST is. The
 * guest listener of a port is itself a hybrid-vsock front (a FakeAgent):
 * it is sent the same CONNECT line and its OK line is consumed. While the VM
 * is paused no bytes flow and new connections wait (then expire).
 */
export class FakeHybridVsock {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<[Socket, Socket]>();
  private nextHostPort = 2 ** 30;
  private paused = false;
  private readonly waiting = new Set<() => void>();

  constructor(
    readonly path: string,
    private readonly guestPorts: ReadonlyMap<number, string>,
    private readonly log: (line: string) => void,
  ) {}

  listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
  }

  pause(): void {
    this.paused = true;
    for (const [a, b] of this.pipes) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  resume(): void {
    this.paused = false;
    for (const [a, b] of this.pipes) {
      a.pipe(b);
      b.pipe(a);
    }
    for (const go of this.waiting) go();
    this.waiting.clear();
  }

  close(): void {
    this.server?.close();
    this.server = null;
    for (const s of this.sockets) s.destroy();
    rmSync(this.path, { force: true });
  }

  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => this.sockets.delete(s));
    return s;
  }

  private accept(client: Socket): void {
    this.track(client);
    let line = '';
    const onData = (chunk: Buffer): void => {
      // Byte by byte in spirit: nothing after the newline is taken as the command.
      const nl = chunk.indexOf(0x0a);
      line += chunk.subarray(0, nl < 0 ? chunk.length : nl).toString('latin1');
      if (line.length > MAX_LINE) return void client.destroy();
      if (nl < 0) return;
      client.off('data', onData);
      client.pause();
      const rest = chunk.subarray(nl + 1);
      if (rest.length > 0) client.unshift(rest);
      const port = /^connect\s+(\d+)$/i.exec(line.trim())?.[1];
      if (port === undefined) return void client.destroy();
      this.whenRunning(client, () => this.toGuest(client, Number(port)));
    };
    client.on('data', onData);
  }

  private whenRunning(client: Socket, go: () => void): void {
    if (!this.paused) return go();
    const timer = setTimeout(() => {
      this.waiting.delete(start);
      client.destroy();
    }, GUEST_ACCEPT_MS);
    const start = (): void => {
      clearTimeout(timer);
      go();
    };
    this.waiting.add(start);
  }

  private toGuest(client: Socket, port: number): void {
    const listener = this.guestPorts.get(port);
    if (!listener) {
      this.log(`vsock: nothing listens on guest port ${port}`);
      return void client.destroy();
    }
    const guest = this.track(connect(listener));
    guest.once('close', () => client.destroy());
    client.once('close', () => guest.destroy());
    guest.once('connect', () => guest.write(`CONNECT ${port}\n`));
    let reply = '';
    const onReply = (chunk: Buffer): void => {
      const nl = chunk.indexOf(0x0a);
      reply += chunk.subarray(0, nl < 0 ? chunk.length : nl).toString('latin1');
      if (nl < 0) return;
      guest.off('data', onReply);
      guest.pause();
      if (!reply.startsWith('OK')) return void client.destroy();
      const rest = chunk.subarray(nl + 1);
      if (rest.length > 0) guest.unshift(rest);
      client.write(`OK ${this.nextHostPort++}\n`);
      const pair: [Socket, Socket] = [client, guest];
      this.pipes.add(pair);
      client.once('close', () => this.pipes.delete(pair));
      if (!this.paused) {
        client.pipe(guest);
        guest.pipe(client);
      }
    };
    guest.on('data', onReply);
  }
}
