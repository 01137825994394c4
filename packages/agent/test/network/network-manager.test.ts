import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ipv4Routes, ipv6Routes } from '../../src/network/network-manager.js';
import { addAddress, addRoute, ipBytes, setLink } from '../../src/network/rtnetlink.js';

const probe = fileURLToPath(new URL('./netns-probe.js', import.meta.url));

describe('the guest side of the pod network (rtnetlink, no ip binary)', () => {
  it('encodes addresses and messages as the kernel reads them', () => {
    assert.deepEqual([...ipBytes('10.1.2.3')], [10, 1, 2, 3]);
    assert.equal(ipBytes('fd00::1').toString('hex'), 'fd000000000000000000000000000001');
    assert.equal(ipBytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
    assert.equal(ipBytes('2001:db8:1:2:3:4:5:6').toString('hex'), '20010db8000100020003000400050006');
    const link = setLink(7, { up: true, mtu: 1400, name: 'eth0' });
    assert.equal(link.readUInt32LE(0), link.length, 'nlmsg_len');
    assert.equal(link.readUInt16LE(4), 16, 'RTM_NEWLINK');
    assert.equal(link.readInt32LE(16 + 4), 7, 'ifi_index');
    assert.equal(link.length % 4, 0);
    const addr = addAddress(3, 6, 'fd00::2', 64);
    assert.equal(addr.readUInt8(16), 10, 'AF_INET6');
    assert.equal(addr.readUInt8(17), 64);
    const route = addRoute({ family: 4, destination: null, gateway: '10.0.0.1', source: null, oifIndex: 2, scope: 0 });
    assert.equal(route.readUInt8(16 + 1), 0, 'a default route has no destination length');
  });

  it("reads the kernel's route tables", () => {
    const v4 =
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0107630A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0007630A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
    assert.deepEqual(ipv4Routes(v4), [
      { destination: 'default', gateway: '10.99.7.1', device: 'eth0', source: '', scope: 0, family: 4 },
      { destination: '10.99.7.0/24', gateway: '', device: 'eth0', source: '', scope: 253, family: 4 },
    ]);
    const v6 = 'fd000099000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n';
    assert.deepEqual(ipv6Routes(v6), [{ destination: 'fd00:99::/64', gateway: '', device: 'eth0', source: '', scope: 253, family: 6 }]);
  });

  it("brings lo up, and configures a NIC found by MAC (or by a template's MAC, then given the pod's): name, MTU, addresses, routes, neighbours (in a network namespace of its own)", function () {
    if (process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0) this.skip();
    // A network namespace (and a mount namespace, for a /sys that shows it) of the test's own: nothing reaches the host's network.
    const out = execFileSync('unshare', ['--net', '--mount', 'sh', '-c', 'mount -t sysfs sysfs /sys && exec "$0" "$1"', process.execPath, probe], { encoding: 'utf8', timeout: 20_000 });
    const r = JSON.parse(out) as {
      mac: string;
      configured: { name: string; mtu: number };
      addr: { ifname: string; mtu: number; address: string; operstate: string; flags: string[]; addr_info: { local: string; prefixlen: number }[] }[];
      route4: { dst: string; gateway?: string; dev: string; prefsrc?: string }[];
      route6: { dst: string; gateway?: string }[];
      neigh: { dst: string; lladdr: string; state: string[] }[];
      listed: { name: string }[];
      lo: { flags: string[] }[];
      restored: { ifname: string; address: string; addr_info: { local: string; prefixlen: number }[] }[];
      error: string;
    };
    assert.ok(r.lo[0]?.flags.includes('UP'), 'the loopback is brought up');
    const eth0 = r.addr[0];
    assert.equal(eth0?.ifname, 'eth0', "renamed after the pod's veth");
    assert.equal(eth0?.address, r.mac);
    assert.equal(eth0?.mtu, 1400);
    assert.ok(eth0?.flags.includes('UP'));
    assert.deepEqual(
      eth0?.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`),
      ['10.99.7.2/24', 'fd00:99::2/64'],
    );
    assert.ok(r.route4.some((x) => x.dst === 'default' && x.gateway === '10.99.7.1' && x.dev === 'eth0'));
    assert.ok(r.route4.some((x) => x.dst === '10.98.0.0/16' && x.prefsrc === '10.99.7.2'));
    assert.ok(r.route6.some((x) => x.dst === 'fd00:98::/64' && x.gateway === 'fd00:99::1'));
    assert.deepEqual(
      r.neigh.map((n) => [n.dst, n.lladdr, n.state]),
      [['10.99.7.1', '02:00:00:00:00:01', ['PERMANENT']]],
    );
    assert.deepEqual(
      r.listed.map((i) => i.name),
      ['eth0', 'eth1'],
    );
    // A NIC with a template's MAC is found by it and given the pod's.
    assert.equal(r.restored[0]?.address, '02:aa:bb:cc:dd:ee');
    assert.ok(r.restored[0]?.addr_info.some((a) => a.local === '10.99.8.2'));
    assert.match(r.error, /^ERR_NOT_FOUND: no network interface with MAC 02:ff:ff:ff:ff:ff/);
  });
});
