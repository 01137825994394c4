import { invalidArgument } from '@mayu/protocol';

/**
 * A value for a QEMU "key=value,key=value" option: commas are doubled, as
 * QEMU's option parser expects. Control characters are refused.
 */
export function optionValue(field: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f]/.test(value)) throw invalidArgument(field, value, 'must not contain control characters');
  return value.replace(/,/g, ',,');
}

/** Virtio device model for a transport: virtio-mmio on microvm, PCI on q35. */
export type DeviceTransport = 'mmio' | 'pci';

export function virtioDevice(kind: string, transport: DeviceTransport): string {
  return `${kind}-${transport === 'mmio' ? 'device' : 'pci'}`;
}
