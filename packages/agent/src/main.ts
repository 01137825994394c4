import { uptimeMs } from './boot/uptime.js';

// Taken first: the moment the agent's own code starts running.
const AGENT_MAIN_MS = uptimeMs();

import { agentMain } from './agent.js';
import { warmUp } from './warmup/warm-up.js';

/** Set by the image build when it records the code cache (see scripts/build-sea.mjs). */
const WARMUP_ENV = 'MAYU_AGENT_WARMUP';

if (process.env[WARMUP_ENV]) {
  warmUp().then(
    () => process.emit('mayu-warmup-done' as 'exit', 0),
    (err: unknown) => {
      console.error('mayu-agent: warm-up failed:', err);
      process.exit(1);
    },
  );
} else {
  agentMain(process.argv.slice(2), AGENT_MAIN_MS).catch((err: unknown) => {
    console.error('mayu-agent: fatal:', err);
    process.exit(1);
  });
}
