export type SandboxState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Allowed sandbox transitions. (Pausing is per container, in the guest: the sandbox itself has no paused state.) */
export const SANDBOX_TRANSITIONS: Readonly<Record<SandboxState, readonly SandboxState[]>> = {
  created: ['starting', 'stopped'],
  starting: ['running', 'stopping', 'stopped'],
  running: ['stopping', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};
