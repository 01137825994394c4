#!/usr/bin/env node
import { uptimeMs } from './boot/uptime.js';

// Taken first: the moment the agent's own code starts running.
const AGENT_MAIN_MS = uptimeMs();

import { agentMain } from './agent.js';

agentMain(process.argv.slice(2), AGENT_MAIN_MS).catch((err: unknown) => {
  console.error('mayu-agent: fatal:', err);
  process.exit(1);
});
