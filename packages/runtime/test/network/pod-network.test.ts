import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { inNetns } from '../../src/network/netns.js';
import { scanPodNetwork } from '../../src/network/scan.js';
import { connectTaps, disconnectTaps } from '../../src/network/tap-bridge.js';

/**
 * The host side of pod networking in a network namespace of the test's own
 * (held by a sleeping process, given by /proc/PID/ns/net as containerd gives
 * a path): CNI's result is played by hand (a veth with addresses, a default
 * route, a permanent neighbour). No traffic leaves it.
 */
describe('pod network on the host: scan and tc redirect', function () {
  let holder: ChildProcess;
  let netns: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    holder = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
    netns = `/proc/${holder.pid}/ns/net`;
    for (let i = 0; i < 100; i++) {
      try {
        if (execFileSync('readlink', [netns]).toString() !== execFileSync('readlink', ['/proc/self/ns/net']).toString()) break;
      } catch {
        // not yet
      }
      execFileSync('sleep', ['0.02']);
    }
    const sh = (cmd: string): void => void execFileSync('nsenter', [`--net=${netns}`, 'sh', '-c', cmd]);
    sh('ip link add eth0 type veth peer name peer0 && ip link set eth0 mtu 1450 up && ip link set peer0 up');
    sh('ip addr add 10.233.250.5/24 dev eth0 && ip -6 addr add fd00:250::5/64 dev eth0 nodad');
    sh('ip route add default via 10.233.250.1 && ip route add 10.233.0.0/16 via 10.233.250.254');
    sh('ip neigh add 10.233.250.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent');
  });
  after(() => {
    holder?.kill('SIGKILL');
  });

  it('scans what CNI made: the Ethernet interfaces, their global addresses, routes and permanent neighbours', async () => {
    const net = await scanPodNetwork(netns);
    const eth0 = net.interfaces.find((i) => i.name === 'eth0');
    assert.ok(eth0, 'eth0 is scanned');
    assert.equal(eth0.mtu, 1450);
    assert.match(eth0.hwAddr, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(eth0.addresses, [
      { family: 4, address: '10.233.250.5', prefixLength: 24 },
      { family: 6, address: 'fd00:250::5', prefixLength: 64 },
    ]);
    assert.deepEqual(
      net.routes.filter((r) => r.device === 'eth0').map((r) => [r.destination, r.gateway]),
      [
        ['default', '10.233.250.1'],
        ['10.233.0.0/16', '10.233.250.254'],
      ],
      "not the kernel's connected routes",
    );
    assert.deepEqual(net.neighbors, [{ ipAddress: '10.233.250.1', device: 'eth0', hwAddr: '02:00:00:00:00:01', state: 0x80 }]);
  });

  it('wires each interface to a tap both ways (ingress qdisc + mirred), and removes all of it', async () => {
    const net = await scanPodNetwork(netns);
    const eth0 = net.interfaces.filter((i) => i.name === 'eth0');
    const links = await connectTaps(netns, eth0, { uid: 0, gid: 0 });
    assert.deepEqual(
      links.map((l) => [l.veth, l.tap, l.mtu]),
      [['eth0', 'tap0_mayu', 1450]],
    );
    const filters = async (dev: string): Promise<string> => inNetns(netns, 'tc', ['filter', 'show', 'dev', dev, 'ingress']);
    assert.match(await filters('eth0'), /mirred \(Egress Redirect to device tap0_mayu\)/);
    assert.match(await filters('tap0_mayu'), /mirred \(Egress Redirect to device eth0\)/);
    assert.match(await inNetns(netns, 'ip', ['-d', 'link', 'show', 'tap0_mayu']), /mtu 1450 .*\n(.|\n)*tun type tap .*user root/);
    assert.deepEqual((await scanPodNetwork(netns)).interfaces.map((i) => i.name).sort(), ['eth0', 'peer0'], 'its own taps are never scanned');
    await disconnectTaps(netns, links);
    assert.doesNotMatch(await inNetns(netns, 'ip', ['link', 'show']), /tap0_mayu/);
    assert.equal(await inNetns(netns, 'tc', ['qdisc', 'show', 'dev', 'eth0', 'ingress']), '');
    await disconnectTaps(netns, links);
  });
});
