import { status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  AgentServiceService,
  guestDetailsToWire,
  servingStatusToWire,
  toServiceError,
  type AgentServiceServer,
  type BootTimestamps,
} from '@mayu/protocol';
import type { Logger } from 'pino';
import { uptimeMs } from '../boot/uptime.js';
import { collectGuestDetails } from './guest-details.js';

/** What the service needs to know about the agent it runs in. */
export interface AgentState {
  boot: BootTimestamps;
  channels: string[];
  shuttingDown: boolean;
}

type Handler<Req, Res> = (request: Req) => Promise<Res> | Res;

/** Adapts an async handler to grpc-js, mapping mayu errors to status codes. */
function unary<Req, Res>(log: Logger, method: string, handler: Handler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const startedAt = uptimeMs();
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => {
          log.debug({ method, uptimeMs: startedAt, durationMs: uptimeMs() - startedAt }, 'rpc');
          callback(null, response);
        },
        (err: unknown) => {
          log.warn({ err, method }, 'rpc failed');
          callback(toServiceError(err));
        },
      );
  };
}

/** The methods this agent implements; every other method answers UNIMPLEMENTED. */
export function createAgentService(log: Logger, state: AgentState): UntypedServiceImplementation {
  const implemented: Partial<AgentServiceServer> = {
    check: unary(log, 'Check', () => ({ status: servingStatusToWire(state.shuttingDown ? 'not-serving' : 'serving') })),
    getGuestDetails: unary(log, 'GetGuestDetails', () => guestDetailsToWire(collectGuestDetails(state.boot, state.channels))),
  };
  const service: UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(AgentServiceService)) {
    service[name] =
      implemented[name as keyof AgentServiceServer] ??
      ((_call: unknown, callback: sendUnaryData<unknown>) =>
        callback({ code: status.UNIMPLEMENTED, details: `${def.path} is not implemented by this agent` }));
  }
  return service;
}
