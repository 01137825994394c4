import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, isKubernetesSpec } from '@mayu/protocol';

/** An OCI linux.devices entry. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

interface DeviceRule {
  allow?: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

interface SpecDevices {
  process?: { capabilities?: { bounding?: unknown }; [k: string]: unknown };
  linux?: { devices?: unknown; resources?: { devices?: unknown }; maskedPaths?: unknown; readonlyPaths?: unknown };
}

/**
 * Guest devices a privileged container is not given: terminals and consoles
 * (crun makes the container's own), the agent's channels and log console
 * (virtio-serial ports), and what the kernel only offers to init.
 */
const NOT_FOR_CONTAINERS = [/^\/dev\/(console|ptmx|tty\d*|ttyS\d+|hvc\d+|vport\d+p\d+|vcs.*|pts\/.*)$/];

/**
 * Whether the spec is a privileged container's. An OCI spec has no such
 * flag; containerd marks one by a device cgroup that allows every device
 * (ctr --privileged, CRI with host devices), or — with
 * privileged_without_host_devices, mayu's containerd configuration — by
 * what it always does for privileged and never otherwise: CAP_SYS_ADMIN in
 * the bounding set and no masked or read-only paths.
 */
export function isPrivileged(spec: SpecDevices): boolean {
  if (allowsAllDevices(spec)) return true;
  const bounding = spec.process?.capabilities?.bounding;
  const none = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.length === 0);
  return Array.isArray(bounding) && bounding.includes('CAP_SYS_ADMIN') && none(spec.linux?.maskedPaths) && none(spec.linux?.readonlyPaths);
}

/** Whether the spec's device cgroup allows every device. */
export function allowsAllDevices(spec: SpecDevices): boolean {
  const rules = spec.linux?.resources?.devices;
  if (!Array.isArray(rules)) return false;
  return (rules as DeviceRule[]).some(
    (r) =>
      r.allow === true &&
      (r.type === undefined || r.type === 'a') &&
      r.major === undefined &&
      r.minor === undefined &&
      /r/.test(r.access ?? '') &&
      /w/.test(r.access ?? '') &&
      /m/.test(r.access ?? ''),
  );
}

function deviceOf(path: string, st: Stats): OciDevice | null {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : null;
  if (!type) return null;
  // Linux's dev_t encoding (new_decode_dev): 12 bits of major, 20 of minor.
  const rdev = st.rdev;
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return { path, type, major, minor, fileMode: st.mode & 0o7777, uid: 0, gid: 0 };
}

/** Terminal majors (tty, console, ptmx, the pts range): a node made with one would reach another's terminal. */
const TERMINAL_MAJORS = new Set([4, 5, 136, 137, 138, 139, 140, 141, 142, 143]);

/** The guest's character and block devices under `dev` (devtmpfs), except NOT_FOR_CONTAINERS unless `all`. */
export function listGuestDevices(dev = '/dev', all = false): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < 2 && !['pts', 'shm', 'mqueue'].includes(name)) walk(path, depth + 1);
        continue;
      }
      const d = deviceOf(path, st);
      if (d && (all || !NOT_FOR_CONTAINERS.some((re) => re.test(path)))) out.push(d);
    }
  };
  walk(dev, 0);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** The guest's device at `path`, if there is one. */
export function guestDeviceAt(path: string): OciDevice | null {
  try {
    return deviceOf(path, lstatSync(path));
  } catch {
    return null;
  }
}

/**
 * The spec's linux.devices for the guest. Device numbers written on the host
 * name the host's devices and mean nothing in the VM, so each requested
 * device is resolved by its path to the guest's device there (its numbers;
 * the requested mode and owner kept). Where the guest has nothing at that
 * path, a Kubernetes pod's container is refused, naming the device: there
 * it is a device plugin's or a CDI device's node (a GPU, /dev/kvm, an
 * SR-IOV function), which no VM has — a node no guest driver answers would
 * only fail later in the workload (ENXIO). Any other spec gets the node made
 * as written, as runc makes it (the OCI conformance suite's devices, a
 * fifo). Numbers that name a device the guest has under another path, or a
 * terminal, are dropped (the host's numbering never aliases a guest device,
 * the agent's channels among them). A privileged container (see
 * isPrivileged) gets every guest device, and a device cgroup that allows
 * them, instead of the host's — containerd lists every host device for it,
 * and those the guest lacks are made as written.
 */
export function guestDevices(
  spec: SpecDevices & { annotations?: Record<string, string> },
  o: { list?: (all: boolean) => OciDevice[]; lookup?: (path: string) => OciDevice | null } = {},
): { devices: OciDevice[]; rules: DeviceRule[] | undefined; dropped: string[] } {
  const requested = Array.isArray(spec.linux?.devices) ? (spec.linux.devices as OciDevice[]) : [];
  let rules = Array.isArray(spec.linux?.resources?.devices) ? (spec.linux.resources.devices as DeviceRule[]).map((r) => ({ ...r })) : undefined;
  const lookup = o.lookup ?? guestDeviceAt;
  const list = o.list ?? ((all: boolean) => listGuestDevices('/dev', all));
  const byPath = new Map<string, OciDevice>();
  const privileged = isPrivileged(spec);
  if (privileged) {
    for (const d of list(false)) byPath.set(d.path, d);
    // Privileged: every (guest) device, as Kubernetes means it.
    if (!allowsAllDevices(spec)) rules = [...(rules ?? []), { allow: true, access: 'rwm' }];
  }
  let everyGuestDevice: OciDevice[] | undefined;
  const aliasesGuestDevice = (r: OciDevice): boolean => {
    if (r.type === 'p') return false;
    if (TERMINAL_MAJORS.has(r.major ?? -1)) return true;
    everyGuestDevice ??= list(true);
    const type = r.type === 'u' ? 'c' : r.type;
    return everyGuestDevice.some((d) => d.type === type && d.major === r.major && d.minor === r.minor);
  };
  const dropped: string[] = [];
  for (const [i, r] of requested.entries()) {
    if (NOT_FOR_CONTAINERS.some((re) => re.test(r.path))) {
      dropped.push(r.path);
      continue;
    }
    const guest = byPath.get(r.path) ?? lookup(r.path);
    if (!guest) {
      if (aliasesGuestDevice(r)) dropped.push(r.path);
      else if (r.type === 'p' || privileged || !isKubernetesSpec(spec)) byPath.set(r.path, { ...r });
      else
        throw invalidArgument(
          `/linux/devices/${i}/path`,
          r.path,
          `the VM has no such device (host ${r.type} ${String(r.major)}:${String(r.minor)}): a host device never reaches a mayu VM — a device plugin's or CDI device's node (a GPU, /dev/kvm, an SR-IOV function) needs device passthrough, which mayu does not do`,
        );
      continue;
    }
    if (r.type !== 'u' && r.type !== guest.type) {
      dropped.push(r.path);
      continue;
    }
    byPath.set(r.path, { ...guest, ...(r.fileMode !== undefined ? { fileMode: r.fileMode } : {}), ...(r.uid !== undefined ? { uid: r.uid } : {}), ...(r.gid !== undefined ? { gid: r.gid } : {}) });
    // The device cgroup rule written for the host's numbers now names the guest's.
    for (const rule of rules ?? []) {
      if (rule.major === r.major && rule.minor === r.minor && (rule.type === undefined || rule.type === r.type)) Object.assign(rule, { major: guest.major, minor: guest.minor });
    }
  }
  return { devices: [...byPath.values()], rules, dropped };
}
