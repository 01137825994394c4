/**
 * Stable error codes. Callers branch on `code`, never on message text; each
 * code maps to one gRPC status (see grpc-status.ts).
 */
export const ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_CONFIG_INVALID',
  'ERR_NOT_FOUND',
  'ERR_ALREADY_EXISTS',
  'ERR_INVALID_STATE',
  'ERR_UNIMPLEMENTED',
  'ERR_UNAVAILABLE',
  'ERR_TIMEOUT',
  'ERR_RESOURCE_EXHAUSTED',
  'ERR_PERMISSION_DENIED',
  'ERR_COMMAND_NOT_FOUND',
  'ERR_COMMAND_NOT_EXECUTABLE',
  'ERR_HYPERVISOR_START',
  'ERR_HYPERVISOR',
  'ERR_QMP',
  'ERR_AGENT',
  'ERR_AGENT_TIMEOUT',
  'ERR_AGENT_PROTOCOL',
  'ERR_GUEST_IMAGE',
  'ERR_HOST_CAPABILITY',
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface MayuErrorOptions {
  cause?: unknown;
  /** Structured facts about the error (the bad field and value, a path...). */
  details?: Record<string, unknown>;
}

/** The one error class of mayu: a stable `code`, a short message, a `cause`. */
export class MayuError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: MayuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MayuError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isMayuError(err: unknown, code?: ErrorCode): err is MayuError {
  return err instanceof MayuError && (code === undefined || err.code === code);
}

/** Error for a bad input field: names the field (path or JSON pointer) and its value. */
export function invalidArgument(field: string, value: unknown, problem: string): MayuError {
  return new MayuError('ERR_INVALID_ARGUMENT', `${field}: ${problem} (got ${formatValue(value)})`, {
    details: { field, value },
  });
}

/** A short, bounded rendering of a value for error messages. */
export function formatValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
