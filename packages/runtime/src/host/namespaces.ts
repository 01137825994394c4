import { statfsSync, statSync } from 'node:fs';
import { invalidArgument, type MayuError } from '@mayu/protocol';

/** nsfs's magic number (statfs f_type): a file that is a namespace (/proc/PID/ns/*, or a bind mount of one). */
const NSFS_MAGIC = 0x6e736673;

/** The namespace types a pod can ask to share with the host, each with its name under /proc/PID/ns and the Kubernetes field that asks. */
export const HOST_NAMESPACE_TYPES = {
  network: { proc: 'net', k8s: 'hostNetwork' },
  ipc: { proc: 'ipc', k8s: 'hostIPC' },
  pid: { proc: 'pid', k8s: 'hostPID' },
} as const;
export type HostNamespaceType = keyof typeof HOST_NAMESPACE_TYPES;

/**
 * A namespace's identity: the nsfs device and inode `path` resolves to
 * (`DEV:INO`), whatever path names it — /proc/PID/ns/net, or a pinned bind
 * mount of it such as cri-o's /var/run/netns/UUID. Null when `path` is not a
 * namespace (missing, or another kind of file).
 */
export function namespaceIdentity(path: string): string | null {
  try {
    if (statfsSync(path).type !== NSFS_MAGIC) return null;
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/**
 * The host's namespaces of a type, by identity: the machine's own (PID 1's)
 * and, unless `self` is false, this process's — the engine's, which starts
 * the runtime in the node's namespaces (a cri-o or containerd in a network
 * namespace of its own sees that one as the node's).
 */
export function hostNamespaceIdentities(type: HostNamespaceType, o: { self?: boolean } = {}): Set<string> {
  const proc = HOST_NAMESPACE_TYPES[type].proc;
  const owners = o.self === false ? ['1'] : ['1', 'self'];
  return new Set(owners.map((pid) => namespaceIdentity(`/proc/${pid}/ns/${proc}`)).filter((id): id is string => id !== null));
}

/** Whether `path` is one of the host's namespaces of `type` (see hostNamespaceIdentities). */
export function isHostNamespace(type: HostNamespaceType, path: string, o: { self?: boolean } = {}): boolean {
  const id = namespaceIdentity(path);
  return id !== null && hostNamespaceIdentities(type, o).has(id);
}

/**
 * The refusal of a container that would share the host's `type` namespace:
 * `field` (a JSON pointer or an annotation) and `value` are what asked.
 */
export function hostNamespaceRefused(field: string, value: unknown, type: HostNamespaceType, asked: string): MayuError {
  return invalidArgument(
    field,
    value,
    `${asked}: the container would share the host's (Kubernetes ${HOST_NAMESPACE_TYPES[type].k8s}), and a container in a VM cannot — it would silently get the VM's instead; set runtime.host_namespaces = "vm" to accept that`,
  );
}
