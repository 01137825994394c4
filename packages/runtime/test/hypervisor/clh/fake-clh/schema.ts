import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/*
 * JSON schemas of the request bodies of Cloud Hypervisor's API, written from
 * the fact sheet (shared/reference/cloud-hypervisor-api.md, v53 with the
 * older versions' members). STRICTER THAN THE REAL CH: every object has
 * additionalProperties: false. CH's serde structs ignore unknown members,
 * so a misspelt member would be silently dropped by a real CH; here it is a
 * 400, which is how the fake catches our mistakes. Unknown enum strings are a
 * 400 in both. Semantic checks (payload present, shared memory for
 * virtio-fs, max >= boot vCPUs, unique ids) are not schema checks: CH runs
 * them at vm.boot (see fake-vm.ts).
 */

type Schema = Record<string, unknown>;
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', additionalProperties: false, properties, required });
const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const uint: Schema = { type: 'integer', minimum: 0 };
const pos: Schema = { type: 'integer', minimum: 1 };
const list = (items: Schema): Schema => ({ type: 'array', items });
/** Members the fact sheet names but mayu never sends: shape only. */
const anyObject: Schema = { type: 'object' };
const pci = { iommu: bool, pci_segment: uint, pci_device_id: uint };

const payload = obj({ kernel: str, cmdline: str, initramfs: str, firmware: str, igvm: str, host_data: str });
const cpus = obj(
  {
    boot_vcpus: pos,
    max_vcpus: pos,
    topology: obj({ threads_per_core: pos, cores_per_die: pos, dies_per_package: pos, packages: pos }),
    kvm_hyperv: bool,
    max_phys_bits: pos,
    affinity: list(obj({ vcpu: uint, host_cpus: list(uint) }, ['vcpu', 'host_cpus'])),
    features: obj({ amx: bool }),
    nested: bool,
    core_scheduling: { enum: ['Vm', 'Vcpu', 'Off'] },
  },
  ['boot_vcpus', 'max_vcpus'],
);
const memory = obj(
  {
    size: uint,
    shared: bool,
    hugepages: bool,
    hugepage_size: uint,
    hotplug_size: uint,
    hotplugged_size: uint,
    hotplug_method: { enum: ['Acpi', 'VirtioMem'] },
    mergeable: bool,
    prefault: bool,
    reserve: bool,
    thp: bool,
    zones: list(anyObject),
  },
  ['size'],
);
const rateLimiter = anyObject;
export const DISK_CONFIG = obj({
  path: str,
  readonly: bool,
  direct: bool,
  num_queues: pos,
  queue_size: pos,
  id: str,
  serial: str,
  image_type: { enum: ['Raw', 'Qcow2', 'FixedVhd', 'Vhdx', 'Unknown'] },
  backing_files: bool,
  sparse: bool,
  lock_granularity: { enum: ['ByteRange', 'Full'] },
  vhost_user: bool,
  vhost_socket: str,
  rate_limiter_config: rateLimiter,
  rate_limit_group: str,
  queue_affinity: list(anyObject),
  ...pci,
});
export const NET_CONFIG = obj({
  tap: str,
  ip: str,
  mask: str,
  mac: str,
  host_mac: str,
  mtu: pos,
  num_queues: pos,
  queue_size: pos,
  id: str,
  vhost_user: bool,
  vhost_socket: str,
  vhost_mode: { enum: ['Client', 'Server'] },
  offload_tso: bool,
  offload_ufo: bool,
  offload_csum: bool,
  rate_limiter_config: rateLimiter,
  ...pci,
});
export const FS_CONFIG = obj({ tag: str, socket: str, num_queues: pos, queue_size: pos, id: str, pci_segment: uint, pci_device_id: uint }, ['tag', 'socket']);
export const VSOCK_CONFIG = obj({ cid: { type: 'integer', minimum: 3, maximum: 0xffffffff }, socket: str, id: str, ...pci }, ['cid', 'socket']);
export const PMEM_CONFIG = obj({ file: str, size: uint, discard_writes: bool, id: str, ...pci }, ['file']);
const consoleMode = { enum: ['Off', 'Pty', 'Tty', 'File', 'Socket', 'Null'] };
/** The serial port (not a PCI device: no iommu, id or PCI placement). */
const serial = obj({ mode: consoleMode, file: str, socket: str }, ['mode']);
/** The virtio console (a PCI device). */
const console = obj({ mode: consoleMode, file: str, socket: str, id: str, ...pci }, ['mode']);
const rng = obj({ src: str, id: str, ...pci }, ['src']);
const balloon = obj({ size: uint, deflate_on_oom: bool, free_page_reporting: bool }, ['size']);

export const VM_CONFIG = obj({
  payload,
  cpus,
  memory,
  disks: list(DISK_CONFIG),
  net: list(NET_CONFIG),
  fs: list(FS_CONFIG),
  vsock: VSOCK_CONFIG,
  serial,
  console,
  rng,
  pmem: list(PMEM_CONFIG),
  balloon,
  iommu: bool,
  watchdog: bool,
  pvpanic: bool,
  platform: anyObject,
  numa: list(anyObject),
  pci_segments: list(anyObject),
  rate_limit_groups: list(anyObject),
  devices: list(anyObject),
  user_devices: list(anyObject),
  vdpa: list(anyObject),
  tpm: anyObject,
  landlock_enable: bool,
  landlock_rules: list(anyObject),
  debug_console: anyObject,
  rtc: anyObject,
  generic_vhost_user: list(anyObject),
});
export const VM_REMOVE_DEVICE = obj({ id: str }, ['id']);

export type BodySchema = 'VmConfig' | 'DiskConfig' | 'NetConfig' | 'FsConfig' | 'VsockConfig' | 'PmemConfig' | 'VmRemoveDevice';
const SCHEMAS: Record<BodySchema, Schema> = {
  VmConfig: VM_CONFIG,
  DiskConfig: DISK_CONFIG,
  NetConfig: NET_CONFIG,
  FsConfig: FS_CONFIG,
  VsockConfig: VSOCK_CONFIG,
  PmemConfig: PMEM_CONFIG,
  VmRemoveDevice: VM_REMOVE_DEVICE,
};

let validators: Map<BodySchema, ValidateFunction> | null = null;

/** Validates a body against one schema; returns the errors as text (empty when valid). */
export function schemaErrors(schema: BodySchema, body: unknown): string[] {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    validators = new Map(Object.entries(SCHEMAS).map(([name, s]) => [name as BodySchema, ajv.compile(s)]));
  }
  const validate = validators.get(schema) as ValidateFunction;
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) =>
    e.keyword === 'additionalProperties' ? `${e.instancePath || '/'}: unknown member ${JSON.stringify(e.params.additionalProperty)}` : `${e.instancePath || '/'}: ${e.message ?? e.keyword}`,
  );
}
