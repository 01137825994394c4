/**
 * Run by network-manager.test.ts inside a network namespace of its own
 * (`unshare --net`): makes a tap standing for the guest NIC, configures it
 * with the NetworkManager (the agent's rtnetlink, no `ip` involved), and
 * prints what iproute2 and the manager then see, as JSON.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { NetworkManager } from '../../src/network/network-manager.js';

const ip = (...args: string[]): unknown => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]');
execFileSync('ip', ['tuntap', 'add', 'dev', 'nic0', 'mode', 'tap']);
const mac = readFileSync('/sys/class/net/nic0/address', 'utf8').trim();
const net = new NetworkManager(pino({ level: 'silent' }));
net.loopbackUp();
const configured = net.updateInterface({
  name: 'eth0',
  hwAddr: mac,
  mtu: 1400,
  addresses: [
    { family: 4, address: '10.99.7.2', prefixLength: 24 },
    { family: 6, address: 'fd00:99::2', prefixLength: 64 },
  ],
});
const routes = net.updateRoutes([
  { destination: 'default', gateway: '10.99.7.1', device: 'eth0', source: '', scope: 0, family: 4 },
  { destination: '10.98.0.0/16', gateway: '', device: 'eth0', source: '10.99.7.2', scope: 253, family: 4 },
  { destination: 'fd00:98::/64', gateway: 'fd00:99::1', device: 'eth0', source: '', scope: 0, family: 6 },
]);
net.addNeighbors([{ ipAddress: '10.99.7.1', device: 'eth0', hwAddr: '02:00:00:00:00:01', state: 0x80 }]);
// A NIC restored from a template: found by the MAC it has, given the pod's.
execFileSync('ip', ['tuntap', 'add', 'dev', 'nic1', 'mode', 'tap']);
const templateMac = readFileSync('/sys/class/net/nic1/address', 'utf8').trim();
net.updateInterface({ name: 'eth1', hwAddr: '02:aa:bb:cc:dd:ee', currentHwAddr: templateMac, mtu: 1500, addresses: [{ family: 4, address: '10.99.8.2', prefixLength: 24 }] });
let error = '';
try {
  net.updateInterface({ name: 'eth2', hwAddr: '02:ff:ff:ff:ff:ff', mtu: 1500, addresses: [] });
} catch (err) {
  error = `${(err as { code: string }).code}: ${(err as Error).message}`;
}
process.stdout.write(
  JSON.stringify({
    mac,
    configured,
    routes,
    listed: net.listInterfaces(),
    addr: ip('addr', 'show', 'dev', 'eth0'),
    restored: ip('addr', 'show', 'dev', 'eth1'),
    route4: ip('route', 'show'),
    route6: ip('-6', 'route', 'show'),
    neigh: ip('neigh', 'show', 'dev', 'eth0'),
    lo: ip('link', 'show', 'dev', 'lo'),
    error,
  }),
);
