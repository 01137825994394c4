/** @mayu/agent: the guest agent. The executable entry point is main.ts. */
export { agentMain } from './agent.js';
export { parseAgentOptions, DEFAULT_OPTIONS, type AgentOptions } from './boot/options.js';
