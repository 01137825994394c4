import { isIP } from 'node:net';
import type * as wire from '../gen/mayu/agent/v1/agent.js';
import { invalidArgument } from '../errors/mayu-error.js';

/**
 * A pod's network as the host scanned it in the pod's network namespace and
 * the guest applies it to its NICs: interfaces (matched by MAC), routes and
 * neighbours. IPv4 and IPv6.
 */
export type IpFamily = 4 | 6;

export interface NetAddress {
  family: IpFamily;
  address: string;
  prefixLength: number;
}

export interface NetInterface {
  /** The name the guest gives it (the pod's veth name, e.g. eth0). */
  name: string;
  /** The MAC it must have (the veth's): it is found by it in the guest, unless currentHwAddr says otherwise. */
  hwAddr: string;
  mtu: number;
  addresses: NetAddress[];
  /** The MAC the guest NIC has now when it differs (a VM restored from a template has the template's). */
  currentHwAddr?: string;
}

export interface NetRoute {
  /** A CIDR, or "default". */
  destination: string;
  /** Empty for a route on the link. */
  gateway: string;
  device: string;
  /** Preferred source address, or empty. */
  source: string;
  /** rtnetlink scope: 0 universe, 253 link, 254 host. */
  scope: number;
  family: IpFamily;
}

export interface NetNeighbor {
  ipAddress: string;
  device: string;
  hwAddr: string;
  /** NUD state (0x80 permanent). */
  state: number;
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
/** Linux interface names: 1..15 bytes, no '/', ':' or whitespace. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

const FAMILY_TO_WIRE: Record<IpFamily, number> = { 4: 1, 6: 2 };
function familyFromWire(field: string, f: number): IpFamily {
  if (f === 1) return 4;
  if (f === 2) return 6;
  throw invalidArgument(field, f, 'must be FAMILY_V4 or FAMILY_V6');
}

function checkAddress(field: string, family: IpFamily, address: string): void {
  if (isIP(address) !== family) throw invalidArgument(field, address, `is not an IPv${family} address`);
}

function checkMac(field: string, mac: string): string {
  const m = mac.toLowerCase();
  if (!MAC.test(m)) throw invalidArgument(field, mac, 'must be a MAC address (xx:xx:xx:xx:xx:xx)');
  return m;
}

/** "default", or a CIDR of `family`. */
function checkDestination(field: string, family: IpFamily, dst: string): void {
  if (dst === 'default') return;
  const [ip = '', len, extra] = dst.split('/');
  const max = family === 4 ? 32 : 128;
  if (extra !== undefined || len === undefined || !/^\d+$/.test(len) || Number(len) > max) throw invalidArgument(field, dst, `must be "default" or an IPv${family} CIDR`);
  checkAddress(field, family, ip);
}

export function interfaceToWire(i: NetInterface): wire.Interface {
  return {
    name: i.name,
    hwAddr: i.hwAddr,
    mtu: i.mtu,
    addresses: i.addresses.map((a) => ({ family: FAMILY_TO_WIRE[a.family], address: a.address, prefixLength: a.prefixLength })),
    pciPath: '',
    type: '',
    currentHwAddr: i.currentHwAddr ?? '',
  };
}

/** An interface the guest is asked to configure, checked field by field. */
export function interfaceFromWire(w: wire.Interface, field = 'interface'): NetInterface {
  if (!IFNAME.test(w.name)) throw invalidArgument(`${field}.name`, w.name, 'must be an interface name of 1-15 letters, digits, "_", "." or "-"');
  if (!Number.isInteger(w.mtu) || w.mtu < 68 || w.mtu > 65535) throw invalidArgument(`${field}.mtu`, w.mtu, 'must be from 68 to 65535');
  const addresses = w.addresses.map((a, n): NetAddress => {
    const f = `${field}.addresses[${n}]`;
    const family = familyFromWire(`${f}.family`, a.family);
    checkAddress(`${f}.address`, family, a.address);
    if (!Number.isInteger(a.prefixLength) || a.prefixLength > (family === 4 ? 32 : 128)) throw invalidArgument(`${f}.prefix_length`, a.prefixLength, 'is out of range');
    return { family, address: a.address, prefixLength: a.prefixLength };
  });
  const current = w.currentHwAddr ? { currentHwAddr: checkMac(`${field}.current_hw_addr`, w.currentHwAddr) } : {};
  return { name: w.name, hwAddr: checkMac(`${field}.hw_addr`, w.hwAddr), mtu: w.mtu, addresses, ...current };
}

export function routeToWire(r: NetRoute): wire.Route {
  return { destination: r.destination, gateway: r.gateway, device: r.device, source: r.source, scope: r.scope, family: FAMILY_TO_WIRE[r.family] };
}

export function routeFromWire(w: wire.Route, field = 'route'): NetRoute {
  const family = familyFromWire(`${field}.family`, w.family);
  checkDestination(`${field}.destination`, family, w.destination);
  if (w.gateway) checkAddress(`${field}.gateway`, family, w.gateway);
  if (w.source) checkAddress(`${field}.source`, family, w.source);
  if (!IFNAME.test(w.device)) throw invalidArgument(`${field}.device`, w.device, 'must be an interface name');
  if (![0, 253, 254].includes(w.scope)) throw invalidArgument(`${field}.scope`, w.scope, 'must be 0 (universe), 253 (link) or 254 (host)');
  return { destination: w.destination, gateway: w.gateway, device: w.device, source: w.source, scope: w.scope, family };
}

export function neighborToWire(n: NetNeighbor): wire.ARPNeighbor {
  return { ipAddress: n.ipAddress, device: n.device, hwAddr: n.hwAddr, state: n.state, flags: 0 };
}

export function neighborFromWire(w: wire.ARPNeighbor, field = 'neighbor'): NetNeighbor {
  if (isIP(w.ipAddress) === 0) throw invalidArgument(`${field}.ip_address`, w.ipAddress, 'is not an IP address');
  if (!IFNAME.test(w.device)) throw invalidArgument(`${field}.device`, w.device, 'must be an interface name');
  return { ipAddress: w.ipAddress, device: w.device, hwAddr: checkMac(`${field}.hw_addr`, w.hwAddr), state: w.state & 0xffff };
}
