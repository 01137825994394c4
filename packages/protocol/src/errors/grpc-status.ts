import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, MayuError, type ErrorCode } from './mayu-error.js';

/** The one table from mayu error codes to gRPC (and ttrpc) status codes. */
export const GRPC_STATUS_OF: Readonly<Record<ErrorCode, status>> = {
  ERR_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  ERR_CONFIG_INVALID: status.INVALID_ARGUMENT,
  ERR_NOT_FOUND: status.NOT_FOUND,
  ERR_ALREADY_EXISTS: status.ALREADY_EXISTS,
  ERR_INVALID_STATE: status.FAILED_PRECONDITION,
  ERR_UNIMPLEMENTED: status.UNIMPLEMENTED,
  ERR_UNAVAILABLE: status.UNAVAILABLE,
  ERR_TIMEOUT: status.DEADLINE_EXCEEDED,
  ERR_RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  ERR_PERMISSION_DENIED: status.PERMISSION_DENIED,
  ERR_COMMAND_NOT_FOUND: status.NOT_FOUND,
  ERR_COMMAND_NOT_EXECUTABLE: status.PERMISSION_DENIED,
  ERR_HYPERVISOR_START: status.UNAVAILABLE,
  ERR_HYPERVISOR: status.INTERNAL,
  ERR_QMP: status.INTERNAL,
  ERR_AGENT: status.INTERNAL,
  ERR_AGENT_TIMEOUT: status.DEADLINE_EXCEEDED,
  ERR_AGENT_PROTOCOL: status.INTERNAL,
  ERR_GUEST_IMAGE: status.FAILED_PRECONDITION,
  ERR_HOST_CAPABILITY: status.FAILED_PRECONDITION,
  ERR_INTERNAL: status.INTERNAL,
};

const CODE_KEY = 'mayu-error-code';

/** A gRPC error for a server to send: status from the table, mayu code in metadata. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const mayu = err instanceof MayuError ? err : new MayuError('ERR_INTERNAL', errorMessage(err), { cause: err });
  const metadata = new Metadata();
  metadata.set(CODE_KEY, mayu.code);
  return { code: GRPC_STATUS_OF[mayu.code], details: mayu.message, metadata };
}

/**
 * The codes a peer (the guest agent) may claim for its errors. Codes that
 * describe the host (its hypervisor, guest image, configuration, a host
 * capability) can only be the host's own findings: a guest claiming one is
 * not believed, and its error counts as ERR_AGENT.
 */
const PEER_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_INVALID_ARGUMENT',
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
  'ERR_AGENT',
]);

/** A peer's error text is cut here, and control characters are shown escaped. */
export const MAX_PEER_MESSAGE = 1024;

function peerText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > MAX_PEER_MESSAGE ? `${clean.slice(0, MAX_PEER_MESSAGE)}... (${clean.length - MAX_PEER_MESSAGE} more characters)` : clean;
}

/**
 * A MayuError for an error a gRPC client received from the agent. The mayu
 * code travels in metadata; without it (another server, a transport
 * failure), or when it is not a code a peer may claim, it is derived from the
 * status. The message is bounded and free of control characters.
 */
export function fromServiceError(err: ServiceError, context: string): MayuError {
  const sent = err.metadata?.get(CODE_KEY)[0];
  const code = typeof sent === 'string' && (ERROR_CODES as readonly string[]).includes(sent) && PEER_CODES.has(sent as ErrorCode) ? (sent as ErrorCode) : codeOfStatus(err.code);
  return new MayuError(code, `${context}: ${peerText(String(err.details || err.message))}`, {
    cause: err,
    details: { grpcStatus: err.code },
  });
}

function codeOfStatus(code: status): ErrorCode {
  switch (code) {
    case status.INVALID_ARGUMENT:
      return 'ERR_INVALID_ARGUMENT';
    case status.NOT_FOUND:
      return 'ERR_NOT_FOUND';
    case status.ALREADY_EXISTS:
      return 'ERR_ALREADY_EXISTS';
    case status.FAILED_PRECONDITION:
      return 'ERR_INVALID_STATE';
    case status.UNIMPLEMENTED:
      return 'ERR_UNIMPLEMENTED';
    case status.UNAVAILABLE:
      return 'ERR_UNAVAILABLE';
    case status.DEADLINE_EXCEEDED:
      return 'ERR_AGENT_TIMEOUT';
    case status.RESOURCE_EXHAUSTED:
      return 'ERR_RESOURCE_EXHAUSTED';
    case status.PERMISSION_DENIED:
      return 'ERR_PERMISSION_DENIED';
    case status.OK:
    case status.CANCELLED:
    case status.UNKNOWN:
    case status.ABORTED:
    case status.OUT_OF_RANGE:
    case status.INTERNAL:
    case status.DATA_LOSS:
    case status.UNAUTHENTICATED:
    default: // a code newer than this table
      return 'ERR_AGENT';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
