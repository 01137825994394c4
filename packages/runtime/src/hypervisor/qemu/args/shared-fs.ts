import { optionValue, virtioDevice, type DeviceTransport } from './option-value.js';

/**
 * A directory exported by QEMU's own 9p server. multidevs=remap keeps inode
 * numbers unique across the bind mounts inside the directory.
 */
export function ninePArgs(opts: { id: string; path: string; tag: string; transport: DeviceTransport }): string[] {
  return [
    '-fsdev', `local,id=${opts.id},path=${optionValue('shared directory', opts.path)},security_model=none,multidevs=remap`,
    '-device', `${virtioDevice('virtio-9p', opts.transport)},fsdev=${opts.id},mount_tag=${opts.tag}`,
  ];
}

/** A directory exported by an external virtiofsd listening on `socket` (guest RAM must be shared). */
export function virtioFsArgs(opts: { id: string; socket: string; tag: string; transport: DeviceTransport }): string[] {
  const model = opts.transport === 'mmio' ? 'vhost-user-fs-device' : 'vhost-user-fs-pci';
  return [
    '-chardev', `socket,id=${opts.id},path=${optionValue('virtiofsd socket', opts.socket)}`,
    '-device', `${model},chardev=${opts.id},tag=${opts.tag}`,
  ];
}
