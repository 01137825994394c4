import { invalidArgument } from '@mayu/protocol';
import { HOST_NAMESPACE_TYPES, hostNamespaceRefused, isHostNamespace, namespaceIdentity, type HostNamespaceType } from '../host/namespaces.js';

/** cri-o's annotations on a pod's sandbox spec: hostNetwork ("true"), and the CRI NamespaceOption as JSON (NODE is 2). */
export const CRIO_HOST_NETWORK = 'io.kubernetes.cri-o.HostNetwork';
export const CRIO_NAMESPACE_OPTIONS = 'io.kubernetes.cri-o.NamespaceOptions';
/** CRI's NamespaceMode NODE (POD 0, CONTAINER 1, NODE 2, TARGET 3): the host's namespace. */
const CRI_NODE = 2;

/** A namespace the spec asks to share with the host, and what said so (a JSON pointer or an annotation). */
export interface HostNamespaceAsk {
  type: HostNamespaceType;
  by: string;
  value: unknown;
}

export interface HostNamespaceOptions {
  /**
   * The PID of the pod's sandbox task, for a pod member's spec: engines name
   * the pod's namespaces /proc/PID/ns/TYPE of it, and that process (the VMM,
   * or mayu-runtime's holder) lives in the host's namespaces itself — such a
   * path means "the pod's", which in the VM is the sandbox container's.
   */
  podTaskPid?: number;
  /** Whether `path` names one of the host's namespaces of `type` (default: by identity, isHostNamespace). */
  isHost?: (type: HostNamespaceType, path: string) => boolean;
  /** Told of each host namespace accepted as the VM's (runtime.host_namespaces = "vm"), for the log. */
  onAccepted?: (ask: HostNamespaceAsk) => void;
}

interface Namespace {
  type?: unknown;
  path?: unknown;
}

/** The namespaces cri-o's annotations say are the host's: HostNetwork, and NODE in NamespaceOptions. */
function askedByAnnotations(annotations: unknown): HostNamespaceAsk[] {
  if (typeof annotations !== 'object' || annotations === null) return [];
  const a = annotations as Record<string, unknown>;
  const asks: HostNamespaceAsk[] = [];
  if (a[CRIO_HOST_NETWORK] === 'true') asks.push({ type: 'network', by: `/annotations/${CRIO_HOST_NETWORK}`, value: 'true' });
  const options = a[CRIO_NAMESPACE_OPTIONS];
  if (typeof options === 'string' && options !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(options);
    } catch {
      throw invalidArgument(`/annotations/${CRIO_NAMESPACE_OPTIONS}`, options, 'must be JSON (a CRI NamespaceOption)');
    }
    for (const type of Object.keys(HOST_NAMESPACE_TYPES) as HostNamespaceType[]) {
      if ((parsed as Record<string, unknown> | null)?.[type] === CRI_NODE) asks.push({ type, by: `/annotations/${CRIO_NAMESPACE_OPTIONS}`, value: options });
    }
  }
  return asks;
}

/**
 * Finds the namespaces a container spec shares with the host, by what they
 * are rather than by how the engine wrote them:
 * - a network, IPC or PID namespace joined by a path that resolves to the
 *   host's (this process's — the engine's — or PID 1's, compared by nsfs
 *   device and inode): cri-o pins the node's own namespaces for a
 *   hostNetwork or hostIPC pod and hands over that path;
 * - one that cri-o's annotations say is the host's (HostNetwork,
 *   NamespaceOptions).
 * A path that is not a namespace at all is refused, naming the field.
 * With runtime.host_namespaces = "refuse" the first one found is refused,
 * naming what asked for it. With "vm" the spec is rewritten the OCI way —
 * without that namespace, as containerd writes hostNetwork — which the VM
 * then gives its own, so that nothing downstream ever wires, enters or
 * serves a host namespace; `onAccepted` is told of each. A namespace the
 * spec leaves out is specForGuest's to judge, by the same rule.
 * Returns the spec: the same object when nothing was found, else a copy.
 */
export function resolveHostNamespaces<S>(raw: S, mode: 'refuse' | 'vm', o: HostNamespaceOptions = {}): S {
  if (raw === null || typeof raw !== 'object') return raw;
  const spec = raw as { annotations?: unknown; linux?: { namespaces?: unknown } };
  const isHost = o.isHost ?? ((type: HostNamespaceType, path: string) => isHostNamespace(type, path));
  const host: HostNamespaceAsk[] = [];
  const namespaces = Array.isArray(spec.linux?.namespaces) ? (spec.linux.namespaces as Namespace[]) : [];
  for (const [i, ns] of namespaces.entries()) {
    if (typeof ns?.path !== 'string' || ns.path === '' || !(typeof ns.type === 'string' && ns.type in HOST_NAMESPACE_TYPES)) continue;
    const type = ns.type as HostNamespaceType;
    if (o.podTaskPid !== undefined && ns.path === `/proc/${o.podTaskPid}/ns/${HOST_NAMESPACE_TYPES[type].proc}`) continue;
    if (!o.isHost && namespaceIdentity(ns.path) === null) throw invalidArgument(`/linux/namespaces/${i}/path`, ns.path, `names no ${type} namespace (not a namespace file, or gone)`);
    if (isHost(type, ns.path)) host.push({ type, by: `/linux/namespaces/${i}/path`, value: ns.path });
  }
  host.push(...askedByAnnotations(spec.annotations));
  if (host.length === 0) return raw;
  if (mode === 'refuse') {
    const [first] = host as [HostNamespaceAsk];
    throw hostNamespaceRefused(first.by, first.value, first.type, first.by.startsWith('/annotations/') ? `asks for the host's ${first.type} namespace` : `is the host's own ${first.type} namespace`);
  }
  for (const h of host) o.onAccepted?.(h);
  const hostTypes = new Set<string>(host.map((h) => h.type));
  const copy = structuredClone(raw) as unknown as { linux?: { namespaces?: Namespace[] } };
  if (copy.linux && Array.isArray(copy.linux.namespaces)) copy.linux.namespaces = copy.linux.namespaces.filter((ns) => !hostTypes.has(ns?.type as string));
  return copy as S;
}
