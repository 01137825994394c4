import { join } from 'node:path';
import { AgentClient, type RuntimeConfig } from '@mayu/runtime';

/** The socket in a sandbox's state directory through which other processes reach its agent. */
export function bridgeSocket(sandboxDir: string): string {
  return join(sandboxDir, 'agent-grpc.sock');
}

/** A client of a sandbox's agent through its bridge socket, with the configuration's deadlines. */
export function attachAgentBridge(sandboxDir: string, config: RuntimeConfig): AgentClient {
  return AgentClient.attach(bridgeSocket(sandboxDir), { dialTimeoutMs: config.agent.dialTimeoutMs, callTimeoutMs: config.agent.callTimeoutMs });
}
