import { invalidArgument, type NetInterface, type NetNeighbor, type NetRoute } from '@mayu/protocol';
import { ipJson } from './netns.js';

/** An interface of the pod's network namespace the VM gets a NIC for. */
export interface PodInterface extends NetInterface {
  ifindex: number;
}

/** What CNI made in a pod's network namespace, as the guest must see it. */
export interface PodNetwork {
  netns: string;
  interfaces: PodInterface[];
  routes: NetRoute[];
  neighbors: NetNeighbor[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  link_type: string;
  address: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  scope?: string;
  protocol?: string;
  type?: string;
}
interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

/** Our own taps in a pod namespace (never scanned as the pod's interfaces). */
export const TAP_PREFIX = 'tap';
const SCOPES: Record<string, number> = { global: 0, universe: 0, link: 253, host: 254 };

/**
 * Reads a pod's network namespace as CNI left it: its Ethernet interfaces
 * (not lo, not mayu's own taps) with their MAC, MTU and global addresses,
 * the routes of the main table through them (not the kernel's own connected
 * or link-local ones: the guest makes those itself), and the permanent
 * neighbours. Read-only.
 */
export async function scanPodNetwork(netns: string): Promise<PodNetwork> {
  const links = await ipJson<IpLink>(netns, ['addr', 'show']);
  const interfaces = links
    .filter((l) => l.link_type === 'ether' && !l.ifname.startsWith(TAP_PREFIX))
    .map((l): PodInterface => ({
      ifindex: l.ifindex,
      name: l.ifname,
      hwAddr: l.address,
      mtu: l.mtu,
      addresses: (l.addr_info ?? [])
        .filter((a) => (a.family === 'inet' || a.family === 'inet6') && a.scope === 'global')
        .map((a) => ({ family: a.family === 'inet' ? 4 : 6, address: a.local, prefixLength: a.prefixlen })),
    }));
  if (interfaces.some((i) => i.name.length > 15)) throw invalidArgument('network namespace', netns, 'has an interface name longer than 15 characters');
  const names = new Set(interfaces.map((i) => i.name));
  const routes: NetRoute[] = [];
  for (const family of [4, 6] as const) {
    for (const r of await ipJson<IpRoute>(netns, [`-${family}`, 'route', 'show', 'table', 'main'])) {
      if (!r.dev || !names.has(r.dev) || r.protocol === 'kernel' || (r.type && r.type !== 'unicast')) continue;
      routes.push({ destination: r.dst, gateway: r.gateway ?? '', device: r.dev, source: r.prefsrc ?? '', scope: SCOPES[r.scope ?? 'global'] ?? 0, family });
    }
  }
  const neighbors = (await ipJson<IpNeigh>(netns, ['neigh', 'show']))
    .filter((n) => names.has(n.dev) && n.lladdr && (n.state ?? []).includes('PERMANENT'))
    .map((n): NetNeighbor => ({ ipAddress: n.dst, device: n.dev, hwAddr: n.lladdr as string, state: 0x80 }));
  return { netns, interfaces, routes, neighbors };
}
