/** @mayu/shim: containerd-shim-mayu-v2 (entry point: main.ts). */
export { parseFlags, type ShimFlags } from './flags.js';
export { socketPath, groupIdOf } from './address.js';
export { parseStdio } from './io/stdio.js';
export { TaskService, type TaskServiceOptions } from './server/task-service.js';
export { EventPublisher } from './events/publisher.js';
export { shimServerOptions } from './server/shim-server.js';
