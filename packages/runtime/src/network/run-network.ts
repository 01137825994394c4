import { createHash } from 'node:crypto';
import { invalidArgument } from '@mayu/protocol';
import { cniAdd, cniDel, findNetwork, type CniAttachment, type PortMapping } from './cni.js';
import { hostNamespaceRefused, isHostNamespace, namespaceIdentity } from '../host/namespaces.js';
import { createNamedNetns, deleteNamedNetns } from './netns.js';

/** What `mayu run --network` asks for. */
export type RunNetwork = { kind: 'none' } | { kind: 'ns'; path: string } | { kind: 'cni'; name: string; portMappings: PortMapping[] };

/** What a run's network set-up made, recorded with the run so that it can be undone, also after a crash. */
export interface RunNetworkRecord {
  /** The network namespace the VM runs in. */
  netns: string;
  /** A namespace mayu made (and deletes): its `ip netns` name. */
  ownedNetns?: string;
  cni?: CniAttachment;
}

/** --network none | ns:PATH | cni:NAME, and -p HOSTPORT:CTRPORT[/tcp|udp] (cni only). */
export function parseRunNetwork(network: string | undefined, publish: readonly string[]): RunNetwork {
  const ports = publish.map((p): PortMapping => {
    const m = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(p);
    const host = Number(m?.[1]);
    const ctr = Number(m?.[2]);
    if (!m || host < 1 || host > 65535 || ctr < 1 || ctr > 65535) throw invalidArgument('--publish', p, 'must be HOSTPORT:CONTAINERPORT[/tcp|udp]');
    return { hostPort: host, containerPort: ctr, protocol: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
  });
  if (!network || network === 'none') {
    if (ports.length > 0) throw invalidArgument('--publish', publish[0], 'needs --network cni:NAME');
    return { kind: 'none' };
  }
  if (network.startsWith('ns:') && network.length > 3) {
    if (ports.length > 0) throw invalidArgument('--publish', publish[0], 'needs --network cni:NAME');
    return { kind: 'ns', path: network.slice(3) };
  }
  if (network.startsWith('cni:') && /^[A-Za-z0-9_.-]+$/.test(network.slice(4))) return { kind: 'cni', name: network.slice(4), portMappings: ports };
  throw invalidArgument('--network', network, 'must be none, ns:PATH or cni:NAME');
}

/**
 * --network ns:PATH checked where the command runs (in the host's
 * namespaces): a PATH that is no network namespace is refused; the host's
 * own (this process's or PID 1's) is refused as a pod's hostNetwork is, or
 * with runtime.host_namespaces = "vm" the run gets the VM's network instead
 * (none: lo only), and nothing is wired into the host's.
 */
export function resolveRunNetwork(n: RunNetwork, mode: 'refuse' | 'vm', onAccepted?: (path: string) => void): RunNetwork {
  if (n.kind !== 'ns') return n;
  if (namespaceIdentity(n.path) === null) throw invalidArgument('--network', `ns:${n.path}`, 'names no network namespace (not a namespace file, or gone)');
  if (!isHostNamespace('network', n.path)) return n;
  if (mode === 'refuse') throw hostNamespaceRefused('--network', `ns:${n.path}`, 'network', "is the host's own network namespace");
  onAccepted?.(n.path);
  return { kind: 'none' };
}

/**
 * Gives a run its network namespace: an existing one (ns:), or a new one
 * CNI configures (cni:); null for none. Nothing is left on failure.
 */
export async function setUpRunNetwork(id: string, n: RunNetwork): Promise<RunNetworkRecord | null> {
  if (n.kind === 'none') return null;
  if (n.kind === 'ns') return { netns: n.path };
  const conf = findNetwork(n.name);
  // Named after the run; hashed when long (netns names are file names).
  const name = `mayu-${id.length <= 40 ? id : createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
  const netns = await createNamedNetns(name);
  try {
    const cni = await cniAdd(conf, { containerId: id, netns, portMappings: n.portMappings });
    return { netns, ownedNetns: name, cni };
  } catch (err) {
    await deleteNamedNetns(name);
    throw err;
  }
}

/** Undoes setUpRunNetwork: CNI DEL, then the namespace it made. Never throws. */
export async function tearDownRunNetwork(r: RunNetworkRecord | null | undefined): Promise<void> {
  if (!r) return;
  if (r.cni) await cniDel(r.cni);
  if (r.ownedNetns) await deleteNamedNetns(r.ownedNetns);
}
