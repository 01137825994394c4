import type { Duplex } from 'node:stream';
import { invalidArgument } from '@mayu/protocol';

/**
 * Opens byte streams to the agent. One dialer per VM endpoint: a dialer may
 * keep state (the serial dialer holds the one connection QEMU allows).
 */
export interface AgentDialer {
  readonly url: string;
  /** One attempt to open a stream; rejects quickly when the agent is not there (yet). */
  dial(timeoutMs: number): Promise<Duplex>;
  close(): void;
}

export type DialerFactory = (url: URL) => AgentDialer;

const factories = new Map<string, DialerFactory>();

/** Registers the dialer for a URL scheme (without the colon), as grpc-js registers resolvers. */
export function registerDialer(scheme: string, factory: DialerFactory): void {
  factories.set(scheme, factory);
}

/** Creates the dialer for an endpoint URL such as serial:///run/mayu/x/agent.sock or vsock://3:1024. */
export function createDialer(endpoint: string): AgentDialer {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidArgument('agent endpoint', endpoint, 'is not a URL');
  }
  const scheme = url.protocol.replace(/:$/, '');
  const factory = factories.get(scheme);
  if (!factory) {
    throw invalidArgument('agent endpoint', endpoint, `unknown scheme (known: ${[...factories.keys()].join(', ')})`);
  }
  return factory(url);
}

/** Parses the "CID:PORT" or "PATH:PORT" authority used by vsock:// and hvsock://. */
export function splitPort(field: string, value: string): { host: string; port: number } {
  const idx = value.lastIndexOf(':');
  const port = Number(value.slice(idx + 1));
  if (idx <= 0 || !Number.isInteger(port) || port < 0 || port > 0xffffffff) {
    throw invalidArgument(field, value, 'must end in :PORT (a 32-bit port number)');
  }
  return { host: value.slice(0, idx), port };
}
