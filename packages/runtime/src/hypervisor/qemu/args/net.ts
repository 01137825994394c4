import { invalidArgument } from '@mayu/protocol';
import type { NicSpec } from '../../hypervisor.js';
import { virtioDevice, type DeviceTransport } from './option-value.js';

/**
 * A virtio-net NIC on an existing tap (in the network namespace QEMU runs
 * in), with the MAC the guest must have (the pod veth's). QEMU opens the
 * tap itself: it is owned by QEMU's uid, so no CAP_NET_ADMIN is needed.
 * vhost-net only with KVM (under TCG it gains nothing).
 */
export function nicArgs(nic: NicSpec, n: number, transport: DeviceTransport, vhost: boolean): string[] {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap)) throw invalidArgument('tap', nic.tap, 'must be an interface name');
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(nic.mac)) throw invalidArgument('mac', nic.mac, 'must be a MAC address');
  return [
    '-netdev',
    `tap,id=net${n},ifname=${nic.tap},script=no,downscript=no${vhost ? ',vhost=on' : ''}`,
    '-device',
    `${virtioDevice('virtio-net', transport)},netdev=net${n},mac=${nic.mac}${nic.mtu ? `,host_mtu=${nic.mtu}` : ''}`,
  ];
}
