/**
 * A failure mayu-runtime reports as runc does: its message alone (no code),
 * on stderr and in the --log file at level error, and exit status 1. Engines
 * match some of these words (podman: "container does not exist"), so they
 * are runc's where runc has words for the case.
 */
export class RuntimeCliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeCliError';
  }
}
