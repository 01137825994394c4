import { Server, ServerCredentials, type ConnectionInjector } from '@grpc/grpc-js';
import { AgentServiceService } from '@mayu/protocol';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ContainerManager } from '../container/container-manager.js';
import type { NetworkManager } from '../network/network-manager.js';
import type { GuestIdentity } from '../system/guest-identity.js';
import type { GuestResources } from '../system/guest-resources.js';
import { createAgentService, type AgentState } from '../service/agent-service.js';

/** Bounds on what one host message may cost the agent. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * The agent's gRPC server. It binds no port: every transport (a serial
 * session, a vsock connection) is handed to it with `serve()`.
 */
export class AgentServer {
  private readonly server: Server;
  private readonly injector: ConnectionInjector;

  constructor(
    log: Logger,
    state: AgentState,
    containers: ContainerManager | null = null,
    network: NetworkManager | null = null,
    identity: GuestIdentity | null = null,
    resources: GuestResources | null = null,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.enable_channelz': 0,
      'grpc.http2.min_ping_interval_without_data_ms': 1000,
    });
    this.server.addService(AgentServiceService, createAgentService(log.child({ subsystem: 'rpc' }), state, containers, network, identity, resources));
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
  }

  serve(connection: Duplex): void {
    this.injector.injectConnection(connection);
  }

  /** Lets in-flight calls finish for up to `graceMs`, then drops every connection. */
  shutdown(graceMs: number): Promise<void> {
    this.injector.drain(graceMs);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
