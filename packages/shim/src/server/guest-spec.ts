import { isAbsolute, join } from 'node:path';
import { SHAREABLE_NAMESPACES, type ShareableNamespace } from '@mayu/protocol';

interface Namespace {
  type: string;
  path?: string;
}

interface Spec {
  root?: { path?: string; readonly?: boolean };
  process?: Record<string, unknown>;
  linux?: { namespaces?: Namespace[]; [k: string]: unknown };
  [k: string]: unknown;
}

/** Namespaces a pod's containers share with its sandbox (pause) container. */
const POD_SHARED: readonly ShareableNamespace[] = SHAREABLE_NAMESPACES;

/**
 * containerd's config.json, made fit for the guest:
 * - the rootfs path is made absolute (the sandbox rewrites it for the guest);
 * - the terminal follows the task;
 * - host security labels go (the guest kernel has no AppArmor or SELinux;
 *   the VM is the isolation boundary);
 * - namespace paths name host processes, meaningless in the guest: a network
 *   namespace with a path goes (the VM's network is the pod's), other paths
 *   are dropped; the agent joins the pod's shared namespaces itself
 *   (see podSharedNamespaces).
 */
export function specForGuest(raw: unknown, bundle: string, terminal: boolean): Spec {
  const spec = structuredClone(raw) as Spec;
  const rootPath = spec.root?.path ?? 'rootfs';
  spec.root = { ...spec.root, path: isAbsolute(rootPath) ? rootPath : join(bundle, rootPath) };
  if (spec.process) {
    spec.process.terminal = terminal;
    delete spec.process.apparmorProfile;
    delete spec.process.selinuxLabel;
  }
  if (spec.linux) {
    delete spec.linux.mountLabel;
    if (Array.isArray(spec.linux.namespaces)) {
      spec.linux.namespaces = spec.linux.namespaces.flatMap((ns): Namespace[] => {
        if (!ns.path) return [ns];
        return ns.type === 'network' ? [] : [{ type: ns.type }];
      });
    }
  }
  return spec;
}

/**
 * The namespaces a pod container joins from its sandbox container: those of
 * type ipc, uts or pid that containerd's spec gives a path (it points at the
 * pause process on the host; in the guest the agent resolves the pod's
 * sandbox container instead).
 */
export function podSharedNamespaces(raw: unknown): ShareableNamespace[] {
  const namespaces = (raw as Spec).linux?.namespaces;
  if (!Array.isArray(namespaces)) return [];
  return POD_SHARED.filter((type) => namespaces.some((ns) => ns.type === type && typeof ns.path === 'string' && ns.path !== ''));
}
