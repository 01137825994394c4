import type { SharedDirSpec } from '../../hypervisor.js';
import { optionValue, virtioDevice, type DeviceTransport } from './option-value.js';

/**
 * A directory exported by QEMU's own 9p server. multidevs=remap keeps inode
 * numbers unique across the mounts inside the directory. The security model
 * follows the share's attributes: `none` serves the host's real owners and
 * modes (what the guest sets is limited by QEMU's capabilities: no device
 * nodes); `mapped-xattr` keeps what the guest sets (owner, mode, setuid,
 * device nodes, symlinks) in user.virtfs.* extended attributes of plain
 * files, so none of it becomes real on the host.
 */
export function ninePArgs(opts: { id: string; path: string; tag: string; attributes: SharedDirSpec['attributes']; transport: DeviceTransport }): string[] {
  const model = opts.attributes === 'mapped' ? 'mapped-xattr' : 'none';
  return [
    '-fsdev',
    `local,id=${opts.id},path=${optionValue('shared directory', opts.path)},security_model=${model},multidevs=remap`,
    '-device',
    `${virtioDevice('virtio-9p', opts.transport)},fsdev=${opts.id},mount_tag=${opts.tag}`,
  ];
}

/** A directory exported by an external virtiofsd listening on `socket` (guest RAM must be shared). */
export function virtioFsArgs(opts: { id: string; socket: string; tag: string; transport: DeviceTransport }): string[] {
  const model = opts.transport === 'mmio' ? 'vhost-user-fs-device' : 'vhost-user-fs-pci';
  return ['-chardev', `socket,id=${opts.id},path=${optionValue('virtiofsd socket', opts.socket)}`, '-device', `${model},chardev=${opts.id},tag=${opts.tag}`];
}
