export type SandboxState = 'created' | 'starting' | 'running' | 'paused' | 'stopping' | 'stopped';

/** Allowed sandbox transitions. */
export const SANDBOX_TRANSITIONS: Readonly<Record<SandboxState, readonly SandboxState[]>> = {
  created: ['starting', 'stopped'],
  starting: ['running', 'stopping', 'stopped'],
  running: ['paused', 'stopping', 'stopped'],
  paused: ['running', 'stopping', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};
