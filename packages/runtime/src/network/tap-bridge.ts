import { inNetns } from './netns.js';
import type { PodInterface } from './scan.js';

/** One pod interface wired to a tap for the VM's NIC. */
export interface TapLink {
  /** The pod's interface (CNI's veth end). */
  veth: string;
  tap: string;
  mac: string;
  mtu: number;
}

/** The tap for the n-th pod interface: tap0_mayu, tap1_mayu... (fits IFNAMSIZ). */
export const tapName = (n: number): string => `tap${n}_mayu`;

/**
 * Kata's default `tcfilter` model: in the pod's network namespace, a tap per
 * pod interface (owned by the uid the VMM runs as, so that it can open it
 * without CAP_NET_ADMIN), the tap's MTU set to the veth's, and everything
 * that arrives on one redirected out of the other by an ingress qdisc and a
 * `mirred` filter on each. The pod's namespace keeps its addresses (CNI's
 * view stays true); the guest NIC gets the veth's MAC and addresses.
 * On a failure, what was made is removed.
 */
export async function connectTaps(netns: string, interfaces: readonly PodInterface[], owner: { uid: number; gid: number }): Promise<TapLink[]> {
  const links: TapLink[] = [];
  try {
    for (const [n, i] of interfaces.entries()) {
      const tap = tapName(n);
      await inNetns(netns, 'ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap', 'user', String(owner.uid), 'group', String(owner.gid)]);
      links.push({ veth: i.name, tap, mac: i.hwAddr, mtu: i.mtu });
      await inNetns(netns, 'ip', ['link', 'set', 'dev', tap, 'mtu', String(i.mtu), 'up']);
      for (const [from, to] of [
        [i.name, tap],
        [tap, i.name],
      ] as const) {
        await inNetns(netns, 'tc', ['qdisc', 'replace', 'dev', from, 'ingress']);
        await inNetns(netns, 'tc', ['filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', to]);
      }
    }
  } catch (err) {
    await disconnectTaps(netns, links);
    throw err;
  }
  return links;
}

/**
 * Removes the taps (their qdisc and filter go with them) and the veths'
 * ingress qdiscs (with their filters). Never throws: at teardown the
 * namespace may be gone already (CNI's DEL, containerd).
 */
export async function disconnectTaps(netns: string, links: readonly TapLink[]): Promise<void> {
  for (const l of links) {
    await inNetns(netns, 'ip', ['link', 'del', 'dev', l.tap]).catch(() => {});
    await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', l.veth, 'ingress']).catch(() => {});
  }
}
