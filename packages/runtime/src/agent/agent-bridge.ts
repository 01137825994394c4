import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AgentDialer } from './dialer.js';

/**
 * A Unix socket in the sandbox's state directory that grpc-js dials like any
 * other address. Each connection to it is joined to a fresh stream from the
 * agent dialer, whatever the transport (virtio-serial session, vsock,
 * hybrid vsock). While the agent is not up yet, the dial is retried until
 * `dialTimeoutMs`; the gRPC call's own deadline bounds the whole wait.
 */
export class AgentBridge {
  private server: Server | null = null;
  private readonly streams = new Set<Duplex>();

  constructor(
    private readonly dialer: AgentDialer,
    readonly socketPath: string,
    private readonly dialTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = createServer((client) => void this.join(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        server.unref();
        resolve();
      });
    });
  }

  close(): void {
    this.server?.close();
    this.server = null;
    for (const s of this.streams) s.destroy();
    this.streams.clear();
    this.dialer.close();
    rmSync(this.socketPath, { force: true });
  }

  private async join(client: Socket): Promise<void> {
    let clientGone = false;
    client.once('close', () => (clientGone = true));
    client.on('error', () => {});
    const agent = await this.dialWithRetry(() => clientGone);
    if (!agent) {
      client.destroy();
      return;
    }
    if (clientGone || !this.server) {
      agent.destroy();
      return;
    }
    this.streams.add(agent);
    agent.on('error', (err) => this.log.debug({ err }, 'agent stream error'));
    agent.once('close', () => {
      this.streams.delete(agent);
      client.destroy();
    });
    client.once('close', () => agent.destroy());
    client.pipe(agent);
    agent.pipe(client);
  }

  private async dialWithRetry(abandoned: () => boolean): Promise<Duplex | null> {
    const deadline = performance.now() + this.dialTimeoutMs;
    let delay = 10;
    let lastError: unknown;
    while (!abandoned() && this.server) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      try {
        return await this.dialer.dial(remaining);
      } catch (err) {
        lastError = err;
      }
      await sleep(Math.min(delay, Math.max(0, deadline - performance.now())));
      delay = Math.min(delay * 2, 100);
    }
    if (lastError) this.log.debug({ err: lastError, url: this.dialer.url }, 'agent dial gave up');
    return null;
  }
}
