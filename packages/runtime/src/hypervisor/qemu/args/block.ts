import { optionValue, virtioDevice, type DeviceTransport } from './option-value.js';

/** A raw image file as a virtio-blk disk. */
export function blockDeviceArgs(opts: { id: string; path: string; readOnly: boolean; transport: DeviceTransport }): string[] {
  const ro = opts.readOnly ? 'on' : 'off';
  return [
    '-blockdev', `driver=file,node-name=${opts.id}-file,filename=${optionValue('block path', opts.path)},read-only=${ro}`,
    '-blockdev', `driver=raw,node-name=${opts.id},file=${opts.id}-file,read-only=${ro}`,
    '-device', `${virtioDevice('virtio-blk', opts.transport)},drive=${opts.id},id=${opts.id}-dev`,
  ];
}
