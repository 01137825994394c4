import { invalidArgument } from '@mayu/protocol';
import { optionValue, virtioDevice, type DeviceTransport } from './option-value.js';

/**
 * A raw image file as a virtio-blk disk. The guest finds a disk by its
 * `serial` (/sys/block/vdX/serial, at most 20 characters), not by its order.
 */
export function blockDeviceArgs(opts: { id: string; path: string; readOnly: boolean; transport: DeviceTransport; serial?: string }): string[] {
  const ro = opts.readOnly ? 'on' : 'off';
  if (opts.serial !== undefined && !/^[A-Za-z0-9_.-]{1,20}$/.test(opts.serial)) {
    throw invalidArgument('disk serial', opts.serial, 'must be 1-20 letters, digits, "_", "." or "-"');
  }
  const serial = opts.serial ? `,serial=${opts.serial}` : '';
  return [
    '-blockdev',
    `driver=file,node-name=${opts.id}-file,filename=${optionValue('block path', opts.path)},read-only=${ro}`,
    '-blockdev',
    `driver=raw,node-name=${opts.id},file=${opts.id}-file,read-only=${ro}`,
    '-device',
    `${virtioDevice('virtio-blk', opts.transport)},drive=${opts.id},id=${opts.id}-dev${serial}`,
  ];
}
