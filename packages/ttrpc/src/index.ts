/** @mayu/ttrpc: containerd's ttrpc (unary calls) — framing, server and client. */
export * from './frame.js';
export * from './status.js';
export * from './service.js';
export { DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_PENDING_WRITE_BYTES, TtrpcServer, statusOf, type ListenOptions, type ServerOptions, type StatusMapper } from './server.js';
export { TtrpcClient } from './client.js';
