import { MayuError } from '@mayu/protocol';
import type { Logger } from 'pino';
import type { AgentClient } from '../agent/agent-client.js';
import type { NicSpec } from '../hypervisor/hypervisor.js';
import { requirePodNetns } from './netns.js';
import { scanPodNetwork, type PodNetwork } from './scan.js';
import { connectTaps, disconnectTaps, type TapLink } from './tap-bridge.js';

/** What a sandbox records about its network, so that another process can undo it after a crash. */
export interface PodNetworkRecord {
  netns: string;
  links: TapLink[];
}

/**
 * A pod's network brought into its VM (Kata's tcfilter model): the pod's
 * network namespace is scanned as CNI left it, each interface gets a tap
 * wired to it both ways, the VM gets a NIC per tap with the veth's MAC and
 * runs in the namespace, and once the agent answers the guest is given the
 * interfaces' names, MTUs and addresses, the routes and the neighbours.
 */
export class PodNetworking {
  private constructor(
    readonly network: PodNetwork,
    readonly links: TapLink[],
    private readonly log: Logger,
  ) {}

  /** Scans `netns` and wires its interfaces to taps the VMM (uid `owner`) may open. */
  static async attach(netns: string, owner: { uid: number; gid: number }, log: Logger): Promise<PodNetworking> {
    requirePodNetns(netns);
    const startedAt = performance.now();
    const network = await scanPodNetwork(netns);
    if (network.interfaces.length === 0) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `network namespace ${netns} has no Ethernet interface to bring into the VM (did CNI run?)`, { details: { netns } });
    }
    const links = await connectTaps(netns, network.interfaces, owner);
    log.info(
      { event: 'network.attached', netns, interfaces: network.interfaces.map((i) => `${i.name} ${i.hwAddr} mtu ${i.mtu}`), attachMs: performance.now() - startedAt },
      'pod network wired to the VM',
    );
    return new PodNetworking(network, links, log);
  }

  get record(): PodNetworkRecord {
    return { netns: this.network.netns, links: this.links };
  }

  /** The VM's NICs: one per tap, with the pod veth's MAC and MTU. */
  nics(): NicSpec[] {
    return this.links.map((l) => ({ tap: l.tap, mac: l.mac, mtu: l.mtu }));
  }

  /** Gives the guest the pod's interfaces, then its routes and neighbours (before the first container). */
  /**
   * Gives the guest the pod's interfaces, routes and neighbours. `currentMacs`:
   * the MACs the guest NICs have now, in order, when they are not the pod's
   * (a VM restored from a template has the template's).
   */
  async configureGuest(agent: AgentClient, currentMacs: readonly string[] = []): Promise<void> {
    const startedAt = performance.now();
    for (const [n, i] of this.network.interfaces.entries()) {
      const current = currentMacs[n];
      await agent.updateInterface({ name: i.name, hwAddr: i.hwAddr, mtu: i.mtu, addresses: i.addresses, ...(current ? { currentHwAddr: current } : {}) });
    }
    if (this.network.routes.length > 0) await agent.updateRoutes(this.network.routes);
    if (this.network.neighbors.length > 0) await agent.addArpNeighbors(this.network.neighbors);
    this.log.info(
      { event: 'network.configured', routes: this.network.routes.length, neighbors: this.network.neighbors.length, configureMs: performance.now() - startedAt },
      'guest network configured',
    );
  }

  async detach(): Promise<void> {
    await detachPodNetwork(this.record);
  }
}

/** Removes what attach made (taps, qdiscs, filters); for a crashed sandbox too. Never throws. */
export async function detachPodNetwork(record: PodNetworkRecord): Promise<void> {
  await disconnectTaps(record.netns, record.links);
}
