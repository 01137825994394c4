import type { AddressInfo, Server, Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { listenInNetns, originalDestination } from '@mayu/vsock';
import type { Logger } from 'pino';
import type { AgentClient } from '../agent/agent-client.js';
import { inNetns, requirePodNetns } from './netns.js';

/** At most this many forwarded connections at once per pod; more are refused. */
export const MAX_FORWARDED_CONNECTIONS = 64;

const RULE_COMMENT = 'mayu port-forward';

/** The iptables rule (nat OUTPUT) that sends the namespace's loopback TCP to the forwarder at `port`, as arguments after -A/-D. */
export function redirectRule(port: number): string[] {
  return ['OUTPUT', '-o', 'lo', '-p', 'tcp', '-d', '127.0.0.1', '!', '--dport', String(port), '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'REDIRECT', '--to-ports', String(port)];
}

/**
 * Kubernetes port-forward for a pod in a VM. containerd serves CRI
 * PortForward by dialing localhost:PORT inside the pod's network namespace
 * on the host — where nothing listens, since the pod's servers run in the
 * VM. So, in that namespace, a rule redirects every TCP connection to
 * 127.0.0.1 to one listener of ours (made in the namespace, owned by this
 * process); each accepted connection's original port (SO_ORIGINAL_DST) is
 * asked of the agent, which connects to it in the guest (loopback first,
 * then the pod's addresses), and the bytes are copied both ways over that
 * agent call. Nothing listens outside the pod's namespace; the guest
 * reaches none of it.
 */
export class PortForwarder {
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly netns: string,
    private readonly server: Server,
    private readonly port: number,
    private readonly agent: AgentClient,
    private readonly log: Logger,
  ) {
    server.on('connection', (socket: Socket) => this.forward(socket));
    server.on('error', (err) => log.warn({ err }, 'port-forward listener failed'));
  }

  /** Listens in `netns` and adds the redirect (lo brought up first: containerd dials 127.0.0.1 there). */
  static async start(netns: string, agent: AgentClient, log: Logger): Promise<PortForwarder> {
    requirePodNetns(netns);
    // Half-open: one side ending its writes must not cut the other's reply.
    const server = await listenInNetns(netns, { allowHalfOpen: true });
    const port = (server.address() as AddressInfo).port;
    try {
      await inNetns(netns, 'ip', ['link', 'set', 'lo', 'up']);
      await inNetns(netns, 'iptables', ['-w', '5', '-t', 'nat', '-A', ...redirectRule(port)]);
    } catch (err) {
      server.close();
      throw err;
    }
    log.debug({ netns, port }, 'port-forward listening');
    return new PortForwarder(netns, server, port, agent, log);
  }

  private forward(socket: Socket): void {
    // A reset from the dialer while the guest is asked must not go unheard (pipeline handles errors after).
    socket.on('error', (err) => this.log.debug({ err }, 'port-forward: the host side of a connection failed'));
    let target: number;
    try {
      ({ port: target } = originalDestination(socket));
    } catch (err) {
      // Not redirected: someone dialed the listener itself.
      this.log.debug({ err }, 'port-forward: a connection that was not redirected, closed');
      socket.destroy();
      return;
    }
    if (this.open.size >= MAX_FORWARDED_CONNECTIONS) {
      this.log.warn({ port: target, open: this.open.size }, 'port-forward: too many connections, refused');
      socket.destroy();
      return;
    }
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    socket.pause();
    this.agent.portForward(target).then(
      ({ address, stream }) => {
        this.log.debug({ port: target, address }, 'port-forward connected');
        if (socket.destroyed) return void stream.destroy();
        pipeline(socket, stream, () => {});
        pipeline(stream, socket, () => {});
      },
      (err: unknown) => {
        this.log.info({ err, port: target }, 'port-forward: the pod did not accept the connection');
        socket.destroy();
      },
    );
  }

  /** Stops listening, closes what is open and removes the redirect (never throws: the namespace may be gone). */
  async close(): Promise<void> {
    this.server.close();
    for (const s of this.open) s.destroy();
    await inNetns(this.netns, 'iptables', ['-w', '5', '-t', 'nat', '-D', ...redirectRule(this.port)]).catch(() => {});
  }
}
