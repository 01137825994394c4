import { isAbsolute, join } from 'node:path';
import { invalidArgument, SHAREABLE_NAMESPACES, type ShareableNamespace } from '@mayu/protocol';
import { HOST_NAMESPACE_TYPES, hostNamespaceRefused, type HostNamespaceType } from '../host/namespaces.js';
import type { Propagation } from '../storage/host-mounts.js';

interface Namespace {
  type: string;
  path?: string;
}

interface Spec {
  root?: { path?: string; readonly?: boolean };
  mounts?: unknown;
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

/** The top-level properties the guest's spec knows; hooks are known too, and refused by the agent (they would run in the VM). */
const GUEST_SPEC_PROPERTIES = new Set(['ociVersion', 'process', 'root', 'hostname', 'domainname', 'mounts', 'annotations', 'linux', 'hooks']);

export interface GuestSpecOptions {
  /** The OCI bundle a relative root.path is relative to (containerd's, or mayu run --bundle). */
  bundle?: string;
  /** The process gets a terminal (it follows the task, not the spec). */
  terminal: boolean;
  /** `refuse` a spec with host security labels, or `drop` them (runtime.lsm_labels). */
  lsmLabels: 'refuse' | 'drop';
  /** Told about each field dropped (for the log): a host security label, or a hostname the VM's UTS namespace cannot take. */
  onDropped?: (field: string, value: unknown) => void;
  /** Told about each top-level property ignored because the guest does not know it (for the log). */
  onIgnored?: (field: string) => void;
  /**
   * A spec with no network, IPC or PID namespace asks for the host's
   * (Kubernetes hostNetwork, hostIPC, hostPID): `refuse` it, or run it in the
   * VM's (`vm`: runtime.host_namespaces, a documented fallback). Default refuse.
   */
  hostNamespaces?: 'refuse' | 'vm';
}

/**
 * A container's OCI spec as its caller has it (containerd's config.json, mayu
 * run's), made fit for the guest — or refused when it asks for what the
 * guest cannot honour (never run silently weaker); the host paths of its
 * rootfs and volumes are then rewritten by prepareContainer:
 * - top-level properties it does not know are ignored, as the runtime-spec
 *   says a runtime must (hooks are not among them: the agent refuses them);
 * - the rootfs path is made absolute (the sandbox rewrites it for the guest);
 * - the terminal follows the task;
 * - host security labels (AppArmor, SELinux) are refused, or dropped when
 *   the configuration says so (the guest kernel has neither; the VM is the
 *   boundary);
 * - a missing network, IPC or PID namespace asks for the host's
 *   (hostNetwork, hostIPC, hostPID): refused, unless runtime.host_namespaces
 *   = "vm" accepts the VM's instead;
 * - namespace paths name host processes, meaningless in the guest: a network
 *   namespace with a path goes (the VM's network is the pod's); ipc, uts and
 *   pid paths become the pod's shared namespaces, which the agent joins
 *   itself (see podSharedNamespaces); joining a host mount, user, cgroup or
 *   time namespace cannot be done from a VM and is refused;
 * - a volume asking for shared (bidirectional) propagation is refused (see
 *   propagationOf).
 */
export function specForGuest(raw: unknown, o: GuestSpecOptions): Spec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('/', raw, 'an OCI spec must be a JSON object');
  const spec = structuredClone(raw) as Spec;
  // The runtime-spec's rule: a runtime ignores properties it does not know (other platforms' sections, extensions).
  for (const key of Object.keys(spec)) {
    if (GUEST_SPEC_PROPERTIES.has(key)) continue;
    o.onIgnored?.(`/${key}`);
    delete (spec as Record<string, unknown>)[key];
  }
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
  for (const [i, m] of (Array.isArray(spec.mounts) ? (spec.mounts as { options?: unknown }[]) : []).entries()) {
    if (Array.isArray(m?.options))
      propagationOf(
        m.options.filter((x): x is string => typeof x === 'string'),
        i,
      );
  }
  const have = new Set((Array.isArray(spec.linux?.namespaces) ? spec.linux.namespaces : []).map((ns) => ns.type));
  if ((o.hostNamespaces ?? 'refuse') === 'refuse') {
    for (const type of Object.keys(HOST_NAMESPACE_TYPES) as HostNamespaceType[]) {
      if (have.has(type)) continue;
      throw hostNamespaceRefused(
        '/linux/namespaces',
        (spec.linux?.namespaces ?? []).map((ns) => ns.type),
        type,
        `has no ${type} namespace`,
      );
    }
  }
  // A hostNetwork pod of containerd's has neither network nor UTS namespace, and a hostname: the VM's UTS namespace, which it
  // then shares, cannot take it (crun, as runc, sets a hostname only in a UTS namespace of the container's own).
  if (o.hostNamespaces === 'vm' && !have.has('uts') && !have.has('network') && typeof spec.hostname === 'string' && spec.hostname !== '') {
    o.onDropped?.('/hostname', spec.hostname);
    delete spec.hostname;
  }
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

/** Mount propagation options (the last one counts, as for mount(8)). */
const PROPAGATION_OPTIONS = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable']);

/**
 * How a volume receives mounts the host makes under its source later: a
 * slave (rslave, Kubernetes HostToContainer) receives them through the
 * shared filesystem, as a directory's contents; private (the default, and
 * unbindable) never. Shared (rshared, Bidirectional) is refused: a mount
 * made in the guest is the guest kernel's and cannot reach the host through
 * 9p or virtio-fs.
 */
export function propagationOf(options: string[], index: number): Propagation {
  const given = options.filter((opt) => PROPAGATION_OPTIONS.has(opt)).at(-1) ?? 'rprivate';
  if (given === 'shared' || given === 'rshared') {
    throw invalidArgument(
      `/mounts/${index}/options`,
      given,
      'bidirectional mount propagation cannot be honoured in a VM: a mount made in the guest cannot reach the host through 9p or virtio-fs (use rslave, Kubernetes HostToContainer, to see host mounts)',
    );
  }
  return given === 'slave' || given === 'rslave' ? 'slave' : 'private';
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
