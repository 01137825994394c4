import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { MayuError, type NetAddress, type NetInterface, type NetNeighbor, type NetRoute } from '@mayu/protocol';
import type { Logger } from 'pino';
import { sys } from '../system/sys.js';
import { addAddress, addNeighbor, addRoute, setLink } from './rtnetlink.js';

/** What the manager needs of the system: rtnetlink requests and /sys/class/net (tests give fakes). */
export interface NetworkSystem {
  /** Sends one rtnetlink request and waits for its ack (throws its errno). */
  rtnetlink(message: Buffer): void;
  sysClassNet: string;
}

const defaultSystem = (): NetworkSystem => ({ rtnetlink: (m) => sys().rtnetlink(m), sysClassNet: '/sys/class/net' });

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The guest's side of the pod's network: the host scanned the pod's network
 * namespace and gave the guest NIC the veth's MAC; here that NIC is found by
 * MAC and given the veth's name, MTU and addresses, then the routes and
 * neighbours are added — with rtnetlink from the agent's addon, no `ip`
 * binary in the image. Containers of the pod live in the guest's own network
 * namespace (the host drops the pod's namespace path from their specs), so
 * they all see it.
 */
export class NetworkManager {
  private readonly sys: NetworkSystem;

  constructor(
    private readonly log: Logger,
    system?: NetworkSystem,
  ) {
    this.sys = system ?? defaultSystem();
  }

  /**
   * Brings the guest's loopback up (at start: containers that share the
   * guest's network namespace, a pod's, expect 127.0.0.1 to work).
   */
  loopbackUp(): void {
    this.request('set lo up', setLink(this.ifindex('lo'), { up: true }));
  }

  /** Configures the NIC with `i.hwAddr` as `i` says; returns what it now is. */
  updateInterface(i: NetInterface): NetInterface {
    const findBy = i.currentHwAddr ?? i.hwAddr;
    const current = this.linkByMac(findBy);
    if (!current) throw new MayuError('ERR_NOT_FOUND', `no network interface with MAC ${findBy} in the guest`, { details: { hwAddr: findBy } });
    const index = this.ifindex(current);
    // A link is renamed (or given another MAC) only while it is down.
    this.request(`set ${current} down`, setLink(index, { up: false }));
    if (i.currentHwAddr && i.currentHwAddr !== i.hwAddr) this.request(`set ${current} address ${i.hwAddr}`, setLink(index, { address: i.hwAddr }));
    if (current !== i.name) {
      if (this.links().includes(i.name)) throw new MayuError('ERR_ALREADY_EXISTS', `the guest already has an interface named ${i.name}`, { details: { name: i.name } });
      this.request(`rename ${current} to ${i.name}`, setLink(index, { name: i.name }));
    }
    this.request(`set ${i.name} mtu ${i.mtu}`, setLink(index, { mtu: i.mtu }));
    for (const a of i.addresses) this.request(`add ${a.address}/${a.prefixLength} to ${i.name}`, addAddress(index, a.family, a.address, a.prefixLength), ['EEXIST']);
    this.request(`set ${i.name} up`, setLink(index, { up: true }));
    this.log.info({ event: 'network.interface', name: i.name, hwAddr: i.hwAddr, mtu: i.mtu, addresses: i.addresses.map((a) => `${a.address}/${a.prefixLength}`) }, 'interface configured');
    return this.describe(i.name);
  }

  /**
   * Adds routes; those on the link first, then those through a gateway (a
   * gateway must be reachable when its route is added). A route the kernel
   * already has (EEXIST) is fine.
   */
  updateRoutes(routes: readonly NetRoute[]): NetRoute[] {
    const ordered = [...routes].sort((a, b) => Number(a.gateway !== '') - Number(b.gateway !== ''));
    for (const r of ordered) {
      const index = this.ifindex(r.device);
      const dst = r.destination === 'default' ? null : { address: r.destination.split('/')[0], prefixLength: Number(r.destination.split('/')[1]) };
      this.request(
        `add route ${r.destination}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.device}`,
        addRoute({ family: r.family, destination: dst, gateway: r.gateway || null, source: r.source || null, oifIndex: index, scope: r.scope }),
        ['EEXIST'],
      );
    }
    this.log.info({ event: 'network.routes', routes: ordered.length }, 'routes added');
    return this.listRoutes();
  }

  addNeighbors(neighbors: readonly NetNeighbor[]): void {
    for (const n of neighbors) this.request(`add neighbour ${n.ipAddress} on ${n.device}`, addNeighbor(this.ifindex(n.device), n.ipAddress, n.hwAddr, n.state || 0x80));
  }

  /** The guest's interfaces (but lo), with their addresses. */
  listInterfaces(): NetInterface[] {
    return this.links()
      .filter((l) => l !== 'lo')
      .map((l) => this.describe(l));
  }

  /** The guest's IPv4 and IPv6 routes in the main table. */
  listRoutes(): NetRoute[] {
    return [...ipv4Routes(read('/proc/net/route')), ...ipv6Routes(read('/proc/net/ipv6_route'))];
  }

  private describe(name: string): NetInterface {
    const addresses: NetAddress[] = (networkInterfaces()[name] ?? []).map((a) => ({
      family: a.family === 'IPv4' ? 4 : 6,
      address: a.address,
      prefixLength: Number(a.cidr?.split('/')[1] ?? 0),
    }));
    return { name, hwAddr: read(`${this.sys.sysClassNet}/${name}/address`), mtu: Number(read(`${this.sys.sysClassNet}/${name}/mtu`)) || 0, addresses };
  }

  private links(): string[] {
    try {
      return readdirSync(this.sys.sysClassNet);
    } catch {
      return [];
    }
  }

  private linkByMac(mac: string): string | undefined {
    return this.links().find((l) => read(`${this.sys.sysClassNet}/${l}/address`).toLowerCase() === mac.toLowerCase());
  }

  private ifindex(name: string): number {
    const index = Number(read(`${this.sys.sysClassNet}/${name}/ifindex`));
    if (!Number.isInteger(index) || index <= 0) throw new MayuError('ERR_NOT_FOUND', `no network interface ${name} in the guest`, { details: { name } });
    return index;
  }

  private request(what: string, message: Buffer, tolerated: string[] = []): void {
    try {
      this.sys.rtnetlink(message);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (tolerated.includes(code)) return;
      throw new MayuError(code === 'EINVAL' || code === 'ERANGE' ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL', `cannot ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Routes of /proc/net/route (hex, little endian): "Iface Destination Gateway Flags ... Mask". */
export function ipv4Routes(text: string): NetRoute[] {
  const ip = (hex: string): string => {
    const n = parseInt(hex, 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
  };
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => {
      const [dev = '', dst = '0', gw = '0', , , , , mask = '0'] = f;
      const prefix = (parseInt(mask, 16) >>> 0).toString(2).split('1').length - 1;
      const gateway = gw === '00000000' ? '' : ip(gw);
      return { destination: prefix === 0 && dst === '00000000' ? 'default' : `${ip(dst)}/${prefix}`, gateway, device: dev, source: '', scope: gateway ? 0 : 253, family: 4 as const };
    });
}

/** Routes of /proc/net/ipv6_route: "dst dstlen src srclen gateway metric ref use flags dev" (32 hex digits each). */
export function ipv6Routes(text: string): NetRoute[] {
  const ip = (hex: string): string =>
    (hex.match(/.{4}/g) ?? [])
      .map((g) => parseInt(g, 16).toString(16))
      .join(':')
      .replace(/(^|:)0(:0)+(:|$)/, '::');
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10 && f[9] !== 'lo')
    .filter((f) => !(f[0] ?? '').startsWith('ff'))
    .map((f) => {
      const [dst = '', len = '0', , , gw = ''] = f;
      const prefix = parseInt(len, 16);
      const gateway = /^0+$/.test(gw) ? '' : ip(gw);
      return { destination: prefix === 0 ? 'default' : `${ip(dst)}/${prefix}`, gateway, device: f[9] ?? '', source: '', scope: gateway ? 0 : 253, family: 6 as const };
    });
}
