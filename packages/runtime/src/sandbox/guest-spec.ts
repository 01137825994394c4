import { isAbsolute, join } from 'node:path';
import { invalidArgument, SHAREABLE_NAMESPACES, type ShareableNamespace } from '@mayu/protocol';

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

/** Host security labels: they confine a process on the host, and the guest kernel has no LSM to honour them. */
const LSM_FIELDS = [
  ['process', 'apparmorProfile', 'AppArmor'],
  ['process', 'selinuxLabel', 'SELinux'],
  ['linux', 'mountLabel', 'SELinux'],
] as const;

export interface GuestSpecOptions {
  /** The OCI bundle a relative root.path is relative to (containerd's, or mayu run --bundle). */
  bundle?: string;
  /** The process gets a terminal (it follows the task, not the spec). */
  terminal: boolean;
  /** `refuse` a spec with host security labels, or `drop` them (runtime.lsm_labels). */
  lsmLabels: 'refuse' | 'drop';
  /** Told about each label dropped (for the log). */
  onDropped?: (field: string, value: unknown) => void;
}

/**
 * A container's OCI spec as its caller has it (containerd's config.json, mayu
 * run's), made fit for the guest — or refused when it asks for what the
 * guest cannot honour (never run silently weaker); the host paths of its
 * rootfs and volumes are then rewritten by prepareContainer:
 * - the rootfs path is made absolute (the sandbox rewrites it for the guest);
 * - the terminal follows the task;
 * - host security labels (AppArmor, SELinux) are refused, or dropped when
 *   the configuration says so (the guest kernel has neither; the VM is the
 *   boundary);
 * - namespace paths name host processes, meaningless in the guest: a network
 *   namespace with a path goes (the VM's network is the pod's); ipc, uts and
 *   pid paths become the pod's shared namespaces, which the agent joins
 *   itself (see podSharedNamespaces); joining a host mount, user, cgroup or
 *   time namespace cannot be done from a VM and is refused.
 */
export function specForGuest(raw: unknown, o: GuestSpecOptions): Spec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('/', raw, 'an OCI spec must be a JSON object');
  const spec = structuredClone(raw) as Spec;
  const rootPath = spec.root?.path ?? 'rootfs';
  if (typeof rootPath !== 'string' || (!isAbsolute(rootPath) && !o.bundle)) throw invalidArgument('/root/path', rootPath, 'must be an absolute path (there is no bundle to be relative to)');
  spec.root = { ...spec.root, path: isAbsolute(rootPath) ? rootPath : join(o.bundle as string, rootPath) };
  for (const [section, key, lsm] of LSM_FIELDS) {
    const part = spec[section];
    const value = part?.[key];
    if (part === undefined || value === undefined || value === '') continue;
    if (o.lsmLabels === 'refuse') {
      throw invalidArgument(
        `/${section}/${key}`,
        value,
        `the guest kernel has no ${lsm}, so mayu cannot confine the container with it; set runtime.lsm_labels = "drop" to run it with the VM as its boundary instead`,
      );
    }
    o.onDropped?.(`/${section}/${key}`, value);
    delete part[key];
  }
  if (spec.process) spec.process.terminal = o.terminal;
  if (spec.linux && Array.isArray(spec.linux.namespaces)) {
    spec.linux.namespaces = spec.linux.namespaces.flatMap((ns, i): Namespace[] => {
      if (!ns.path) return [ns];
      if (ns.type === 'network') return [];
      if ((POD_SHARED as readonly string[]).includes(ns.type)) return [{ type: ns.type }];
      throw invalidArgument(`/linux/namespaces/${i}/path`, ns.path, `joins an existing ${ns.type} namespace on the host, which a container in a VM cannot do`);
    });
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
