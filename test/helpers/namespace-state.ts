import { spawnSync } from 'node:child_process';
import { criWire } from '@mayu/protocol';

/** The three ways a pod asks for the node's namespaces, and the Kubernetes field of each. */
export const HOST_PODS: readonly (readonly [string, Partial<criWire.NamespaceOption>])[] = [
  ['hostNetwork', { network: criWire.NamespaceMode.NODE }],
  ['hostIPC', { ipc: criWire.NamespaceMode.NODE }],
  ['hostPID', { pid: criWire.NamespaceMode.NODE }],
];

/** A network namespace's state, as text to compare: links, addresses, routes, qdiscs and filters, iptables and nft rules, listeners. */
export function namespaceState(netnsPath: string): string {
  const run = (args: string[]): string => {
    const r = spawnSync('nsenter', [`--net=${netnsPath}`, ...args], { encoding: 'utf8' });
    return `$ ${args.join(' ')}\n${r.stdout}${r.stderr}`;
  };
  const links = (JSON.parse(spawnSync('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as { ifname: string }[]).map((l) => l.ifname);
  return [
    // A bridge's and its ports' timers tick; everything else of a link counts.
    run(['ip', '-d', 'link', 'show']).replace(/(\w+_timer)\s+[\d.]+/g, '$1 -'),
    run(['ip', 'addr', 'show']),
    run(['ip', 'route', 'show', 'table', 'all']),
    run(['tc', 'qdisc', 'show']),
    ...links.flatMap((dev) => [run(['tc', 'filter', 'show', 'dev', dev, 'ingress']), run(['tc', 'filter', 'show', 'dev', dev, 'egress'])]),
    // Packet counters change with traffic; the rules are what counts.
    run(['iptables-save'])
      .replace(/\[\d+:\d+\]/g, '[-]')
      .replace(/^# (Generated|Completed).*$/gm, ''),
    run(['nft', 'list', 'ruleset']),
    run(['ss', '-Hltnu']),
  ].join('\n');
}
