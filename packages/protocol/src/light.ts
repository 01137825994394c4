/**
 * The few messages a shim's short-lived `start` and `delete` commands need,
 * without the rest of this package (grpc-js and every generated service):
 * containerd runs those commands for every task, so their start-up counts.
 */
export * as anyWire from './gen/google/protobuf/any.js';
export * as runtimeOptionsWire from './gen/containerd/runtimeoptions/v1/api.js';
export { DeleteResponse } from './gen/containerd/task/v2/shim.js';
export * as bootstrapWire from './gen/containerd/runtime/bootstrap/v1/bootstrap.js';
export { isPodSandbox, POD_ANNOTATIONS, podRoleOf, type PodRole } from './domain/pod-role.js';
