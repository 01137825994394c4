/** @mayu/ttrpc: containerd's ttrpc (unary calls) — framing, server and client. */
export * from './frame.js';
export * from './status.js';
export * from './service.js';
export { TtrpcServer, statusOf, type ServerOptions } from './server.js';
export { TtrpcClient } from './client.js';
