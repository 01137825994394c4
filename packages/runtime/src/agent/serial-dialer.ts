import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HostChannel, invalidArgument, MayuError } from '@mayu/protocol';
import type { AgentDialer } from './dialer.js';

/**
 * serial://PATH: the agent's virtio-serial port, reached through the Unix
 * socket of QEMU's chardev. QEMU serves one client at a time, so the dialer
 * keeps one connection for the life of the VM and runs a framed session over
 * it per dial (see @mayu/protocol's channel): a new session supersedes the
 * old one, and bytes left over from an earlier host never reach it.
 */
export class SerialDialer implements AgentDialer {
  private channel: HostChannel | null = null;
  private connecting: Promise<HostChannel> | null = null;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly path: string,
  ) {}

  async dial(timeoutMs: number): Promise<Duplex> {
    const deadline = performance.now() + timeoutMs;
    const channel = await this.link(timeoutMs);
    return channel.openSession(Math.max(1, deadline - performance.now()));
  }

  close(): void {
    this.closed = true;
    this.channel?.close();
    this.channel = null;
  }

  private link(timeoutMs: number): Promise<HostChannel> {
    if (this.closed) return Promise.reject(new MayuError('ERR_UNAVAILABLE', 'dialer closed'));
    if (this.channel?.connected) return Promise.resolve(this.channel);
    this.connecting ??= new Promise<HostChannel>((resolve, reject) => {
      const socket: Socket = connect(this.path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MayuError('ERR_AGENT_TIMEOUT', `no connection to ${this.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        const channel = new HostChannel(socket);
        channel.once('close', () => {
          if (this.channel === channel) this.channel = null;
        });
        this.channel = channel;
        resolve(channel);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }
}

export function serialDialer(url: URL): AgentDialer {
  const path = decodeURIComponent(url.pathname);
  if (!path.startsWith('/') || url.host) throw invalidArgument('agent endpoint', url.href, 'serial:// needs an absolute socket path (serial:///path)');
  return new SerialDialer(url.href, path);
}
