import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criWire } from '@mayu/protocol';
import { removeDirSafely } from '@mayu/runtime';
import { containerdMatrix, PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, removePodsQuietly, startPodContainer } from '../helpers/cri-client.js';
import { HOST_PODS, namespaceState } from '../helpers/namespace-state.js';
import { GuestFactory, REPO_ROOT } from '../helpers/guest-factory.js';
import { isolatedBridge, writeConflist } from '../helpers/cni.js';
import { entriesOf } from '../helpers/leftovers.js';
import { runMayu } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';

/** A command in a pod's container, its stdout (the exit status must be 0). */
async function inPod(cri: CriClient, containerId: string, script: string): Promise<string> {
  const r = await cri.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 60n });
  assert.equal(r.exitCode, 0, `${script}: ${Buffer.from(r.stderr).toString()}${Buffer.from(r.stdout).toString()}`);
  return Buffer.from(r.stdout).toString();
}

/** A page served by busybox httpd on port 8080, saying `text`. */
const serve = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`];
/**
 * Fetches a page, bounded (at most 20 requests of 10 s, half a second apart,
 * while the server comes up): an HTTP/1.0 GET through busybox nc
 * (busybox-static's wget crashes in glibc's static resolver), printing the
 * body's last line.
 */
const fetch = (ip: string): string => `for i in $(seq 20); do out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 ${ip} 8080 | tail -n 1); [ -n "$out" ] && break; sleep 0.5; done; echo "$out"`;

/**
 * Pod networking on real parts: a private containerd with a CNI bridge of
 * its own (no gateway, no masquerade: no route out), real CNI plugins, real
 * VMs. Traffic only between namespaces these tests made, bounded.
 */
for (const version of containerdMatrix())
  describe(`pod networking: the pod's CNI network inside its VM (real containerd ${version}, CNI, VMs)`, function () {
    let ctrd: PrivateContainerd;
    let cri: CriClient;
    let failed: string | undefined;
    const pods: string[] = [];

    // Namespaces that were there before (the host's or another tool's): not these tests' to judge.
    let namespacesBefore: Set<string>;
    before(async () => {
      namespacesBefore = new Set(entriesOf('/run/netns'));
      ctrd = await PrivateContainerd.start({ version });
      cri = new CriClient(ctrd.address);
    });
    // A failed test's pods go before the run-wide guard looks for VMs left running.
    afterEach(async function () {
      if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
      await removePodsQuietly(cri, pods.splice(0));
      await ctrd.settle();
    });
    after(async () => {
      cri?.close();
      await ctrd?.stop(failed);
    });

    const dns = { servers: ['10.233.0.53'], searches: ['pods.test'], options: ['ndots:2'] };
    async function pod(name: string, handler: string): Promise<{ id: string; ip: string; config: criWire.PodSandboxConfig }> {
      const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`, { dnsConfig: dns });
      const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: handler });
      pods.push(podSandboxId);
      const ip = (await cri.podSandboxStatus({ podSandboxId, verbose: false })).status?.network?.ip ?? '';
      assert.match(ip, /^10\.233\.\d+\.\d+$/);
      return { id: podSandboxId, ip, config };
    }
    async function container(p: { id: string; config: criWire.PodSandboxConfig }, name: string, command: string[]): Promise<string> {
      return startPodContainer(cri, { podSandboxId: p.id, config: p.config }, name, command);
    }
    /** The pod's network namespace (from its sandbox's bundle). */
    function podNetns(podId: string): string {
      const spec = JSON.parse(readFileSync(join(ctrd.dir, 'state/io.containerd.runtime.v2.task/k8s.io', podId, 'config.json'), 'utf8')) as { linux: { namespaces: { type: string; path?: string }[] } };
      return spec.linux.namespaces.find((n) => n.type === 'network')?.path ?? '';
    }
    /** The MTU of the pod's veth on the host side. */
    function vethMtu(podId: string): number {
      const netns = podNetns(podId);
      // Through ip, not /sys: a sysfs mounted on the host shows the host's interfaces, whatever the network namespace.
      const links = JSON.parse(spawnSync('nsenter', [`--net=${netns}`, 'ip', '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' }).stdout || '[]') as { mtu: number }[];
      return links[0]?.mtu ?? 0;
    }

    /** Stops and removes every pod the test made; then nothing of their network may be left. */
    async function removePods(): Promise<void> {
      for (const p of pods.splice(0)) {
        await cri.stopPodSandbox({ podSandboxId: p });
        await cri.removePodSandbox({ podSandboxId: p });
      }
      await ctrd.settle();
      const onBridge = spawnSync('ip', ['-o', 'link', 'show', 'master', ctrd.bridge], { encoding: 'utf8' }).stdout.trim();
      assert.equal(onBridge, '', "no veth is left on the pods' bridge");
      const taps = entriesOf('/run/netns')
        .filter((ns) => !namespacesBefore.has(ns))
        .flatMap((ns) =>
          spawnSync('ip', ['-n', ns, '-o', 'link', 'show'], { encoding: 'utf8' })
            .stdout.split('\n')
            .filter((l) => l.includes('_mayu'))
            .map((l) => `${ns}: ${l}`),
        );
      assert.deepEqual(taps, [], 'no tap is left in any network namespace made since the suite began');
      // ctrd.stop() (after all) also asserts that no pod network namespace, process or mount is left.
    }

    it("a mayu pod's IP is its VM's: eth0 has RunPodSandbox's address and the veth's MTU, resolv.conf is CRI's; a replaced container keeps it all; teardown leaves nothing", async () => {
      const a = await pod('net-a', 'mayu');
      const server = await container(a, 'server', serve('from-mayu-a'));
      const addr = await inPod(cri, server, 'ip -4 -o addr show dev eth0; cat /sys/class/net/eth0/mtu; cat /etc/resolv.conf');
      assert.match(addr, new RegExp(`inet ${a.ip.replace(/\./g, '\\.')}/\\d+ `), addr);
      const mtu = vethMtu(a.id);
      assert.ok(mtu >= 68 && addr.includes(`\n${mtu}\n`), `the guest NIC has the veth's MTU (${mtu}): ${addr}`);
      assert.match(addr, /nameserver 10\.233\.0\.53/);
      assert.match(addr, /search pods\.test/);
      assert.match(addr, /options ndots:2/);
      await cri.stopContainer({ containerId: server, timeout: 5n });
      await cri.removeContainer({ containerId: server });
      const again = await container(a, 'server2', serve('from-mayu-a-again'));
      const out = await inPod(cri, again, `ip -4 -o addr show dev eth0; ${fetch('127.0.0.1')}`);
      assert.match(out, new RegExp(`inet ${a.ip.replace(/\./g, '\\.')}/`));
      assert.match(out, /from-mayu-a-again/);
      await removePods();
    });

    it("a pod whose shim is killed: its VM goes with it, and containerd's `delete` removes the taps and qdiscs from the pod's namespace", async () => {
      const a = await pod('net-crash', 'mayu');
      const c = await container(a, 'c', ['sleep', '3600']);
      const netns = podNetns(a.id);
      const inNs = (args: string[]): string => spawnSync('nsenter', [`--net=${netns}`, ...args], { encoding: 'utf8' }).stdout;
      assert.match(inNs(['ip', '-o', 'link', 'show']), /tap0_mayu/);
      const [shim] = ctrd.shims();
      assert.ok(shim, 'the pod has a shim');
      process.kill(shim, 'SIGKILL');
      const ingress = (): string => inNs(['tc', 'qdisc', 'show', 'dev', 'eth0', 'ingress']).trim();
      for (let i = 0; i < 100 && (ctrd.vms().length > 0 || /tap0_mayu/.test(inNs(['ip', '-o', 'link', 'show'])) || ingress() !== ''); i++) await new Promise((r) => setTimeout(r, 200));
      assert.equal(ctrd.vms().length, 0, 'the VM died with its shim');
      assert.doesNotMatch(inNs(['ip', '-o', 'link', 'show']), /tap0_mayu/, 'delete removed the tap');
      assert.equal(ingress(), '', 'and the ingress qdisc');
      // The CRI plugin learns of the exit (255) from containerd's clean-up; 1.7 and 2.x retry handling it for a moment, as kubelet waits.
      for (let i = 0; i < 100 && (await cri.containerStatus({ containerId: c, verbose: false })).status?.state !== criWire.ContainerState.CONTAINER_EXITED; i++)
        await new Promise((r) => setTimeout(r, 200));
      assert.equal((await cri.containerStatus({ containerId: c, verbose: false })).status?.exitCode, 255, 'the container ended with its VM');
      await removePods();
    });

    it("a pod asking for the host's network, IPC or PID namespace is refused under the mayu handler, naming the field; the host's namespace stays byte-for-byte the same, another pod's network works throughout, and nothing is left", async () => {
      const a = await pod('net-a', 'mayu');
      await container(a, 'server', serve('from-mayu-a'));
      const client = await container(await pod('net-b', 'mayu'), 'client', ['sleep', '3600']);
      const othersWork = async (): Promise<void> => assert.equal((await inPod(cri, client, fetch(a.ip))).trim(), 'from-mayu-a');
      await othersWork();
      const vms = ctrd.vms().length;
      const hostBefore = namespaceState('/proc/self/ns/net');
      for (const [field, option] of HOST_PODS) {
        const config = podSandboxConfig(`host-${field.toLowerCase()}`, `${ctrd.dir}/pod-logs`, {
          linux: criWire.LinuxPodSandboxConfig.fromPartial({ cgroupParent: '', securityContext: { namespaceOptions: criWire.NamespaceOption.fromPartial(option), privileged: false } }),
        });
        await assert.rejects(cri.runPodSandbox({ config, runtimeHandler: 'mayu' }), new RegExp(`Kubernetes ${field}`), field);
        assert.equal(ctrd.vms().length, vms, `no VM was booted for a ${field} pod`);
        assert.equal(namespaceState('/proc/self/ns/net'), hostBefore, `${field}: the host's namespace is unchanged`);
        await othersWork();
      }
      await removePods();
    });

    it("with host_namespaces = \"vm\", a hostNetwork, hostIPC or hostPID pod runs with the VM's namespaces: none of the host's interfaces or processes, and the host's namespace untouched", async () => {
      const vmNs = await PrivateContainerd.start({ version, runtimeToml: 'host_namespaces = "vm"' });
      const vmCri = new CriClient(vmNs.address);
      try {
        // An ordinary pod of this containerd throughout: CNI's bridge then exists with a port before, during and after, as on a node.
        const ordinary = podSandboxConfig('vmns-ordinary', `${vmNs.dir}/pod-logs`);
        const { podSandboxId: ordinaryId } = await vmCri.runPodSandbox({ config: ordinary, runtimeHandler: 'mayu' });
        const hostBefore = namespaceState('/proc/self/ns/net');
        for (const [field, option] of HOST_PODS) {
          const config = podSandboxConfig(`vmns-${field.toLowerCase()}`, `${vmNs.dir}/pod-logs`, {
            linux: criWire.LinuxPodSandboxConfig.fromPartial({ cgroupParent: '', securityContext: { namespaceOptions: criWire.NamespaceOption.fromPartial(option), privileged: false } }),
          });
          const { podSandboxId } = await vmCri.runPodSandbox({ config, runtimeHandler: 'mayu' });
          try {
            const c = await startPodContainer(vmCri, { podSandboxId, config }, 'c', ['sleep', '3600']);
            const seen = await inPod(vmCri, c, 'cat /proc/net/dev; ps -o comm');
            assert.doesNotMatch(seen, new RegExp(`${ctrd.bridge}|${vmNs.bridge}|veth`), `${field}: none of the host's interfaces`);
            assert.doesNotMatch(seen, /containerd|qemu/, `${field}: none of the host's processes`);
            if (field === 'hostPID') assert.match(seen, /mayu-agent/, `${field}: the VM's processes`);
          } finally {
            await vmCri.stopPodSandbox({ podSandboxId });
            await vmCri.removePodSandbox({ podSandboxId });
          }
          assert.equal(namespaceState('/proc/self/ns/net'), hostBefore, `${field}: the host's namespace is unchanged`);
        }
        await vmCri.stopPodSandbox({ podSandboxId: ordinaryId });
        await vmCri.removePodSandbox({ podSandboxId: ordinaryId });
      } finally {
        vmCri.close();
        await vmNs.stop();
      }
    });

    it('two mayu pods reach each other by pod IP, and a mayu pod and a runc pod both ways; teardown leaves nothing', async () => {
      const a = await pod('net-a', 'mayu');
      await container(a, 'server', serve('from-mayu-a'));
      const b = await pod('net-b', 'mayu');
      const bClient = await container(b, 'client', ['sleep', '3600']);
      assert.equal((await inPod(cri, bClient, fetch(a.ip))).trim(), 'from-mayu-a');
      const r = await pod('net-r', '');
      const rServer = await container(r, 'server', serve('from-runc-r'));
      assert.equal((await inPod(cri, bClient, fetch(r.ip))).trim(), 'from-runc-r', 'mayu → runc');
      assert.equal((await inPod(cri, rServer, fetch(a.ip))).trim(), 'from-mayu-a', 'runc → mayu');
      await removePods();
    });
  });

/**
 * `mayu run --network`: a test bridge and a server namespace of the test's
 * own (no gateway, no masquerade, no route out), a CNI network on it, and a
 * namespace made by hand.
 */
describe('mayu run --network cni:NAME and ns:PATH (real CNI plugins, real VMs)', function () {
  const tag = randomBytes(3).toString('hex');
  const bridge = `mayu-r${tag}`;
  const subnet = `10.233.${180 + ((randomBytes(1)[0] ?? 0) % 60)}`;
  const serverNs = `mayu-srv-${tag}`;
  const handNs = `mayu-hand-${tag}`;
  let dir: string;
  let server: ChildProcess;
  let vms: GuestFactory;
  let natBefore = '';
  const sh = (cmd: string): void => {
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
  };
  /** A veth from namespace `ns` onto the test bridge, with `ip`. */
  const plug = (ns: string, n: number, ip: string): void =>
    sh(
      `ip link add mayu-h${n}${tag} type veth peer name eth0 netns ${ns} && ip link set mayu-h${n}${tag} master ${bridge} up && ip -n ${ns} link set eth0 up && ip -n ${ns} addr add ${ip}/24 dev eth0 && ip -n ${ns} link set lo up`,
    );

  before(async () => {
    dir = mkdtempSync('/run/mayu-test-net-');
    vms = new GuestFactory();
    sh(`ip link add ${bridge} type bridge && ip link set ${bridge} up`);
    sh(`ip netns add ${serverNs} && ip netns add ${handNs}`);
    plug(serverNs, 1, `${subnet}.2`);
    plug(handNs, 2, `${subnet}.3`);
    mkdirSync(join(dir, 'www'));
    writeFileSync(join(dir, 'www/index.html'), 'from-the-test-server\n');
    server = spawn('ip', ['netns', 'exec', serverNs, 'busybox', 'httpd', '-f', '-p', '8080', '-h', join(dir, 'www')], { stdio: 'ignore' });
    mkdirSync(join(dir, 'cni'));
    natBefore = spawnSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8' }).stdout;
    writeConflist(join(dir, 'cni/60-portmap.conflist'), `pm-${tag}`, [
      isolatedBridge(bridge, { subnet: `${subnet}.0/24`, rangeStart: `${subnet}.160`, rangeEnd: `${subnet}.170` }, join(dir, 'ipam')),
      // No SNAT: nothing masqueraded; the host reaches the port on its own address on the test bridge.
      { type: 'portmap', capabilities: { portMappings: true }, snat: false },
    ]);
    writeConflist(join(dir, 'cni/50-run.conflist'), `run-${tag}`, [isolatedBridge(bridge, { subnet: `${subnet}.0/24`, rangeStart: `${subnet}.100`, rangeEnd: `${subnet}.150` }, join(dir, 'ipam'))]);
  });
  after(async () => {
    // portmap keeps its shared chain and the jumps to it: gone again if they were not there before.
    if (!natBefore.includes('CNI-HOSTPORT-DNAT')) {
      for (const chain of ['PREROUTING', 'OUTPUT']) spawnSync('iptables', ['-t', 'nat', '-D', chain, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']);
      spawnSync('iptables', ['-t', 'nat', '-X', 'CNI-HOSTPORT-DNAT']);
    }
    server?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', serverNs]);
    spawnSync('ip', ['netns', 'del', handNs]);
    spawnSync('ip', ['link', 'del', bridge]);
    await vms?.cleanup();
    removeDirSafely(dir);
  });

  it("--network cni:NAME: CNI configures a namespace of the container's own, the VM reaches a server in another; all of it goes with the container", async () => {
    const netnsBefore = entriesOf('/run/netns');
    const r = await runMayu(
      ['run', '--rm', '--network', `cni:run-${tag}`, '--config', vms.configFile(), (await testImage()).layout, '--', 'sh', '-c', `ip -4 -o addr show dev eth0; ${fetch(`${subnet}.2`)}`],
      {
        env: { MAYU_CNI_CONF_DIR: join(dir, 'cni') },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`inet ${subnet.replace(/\./g, '\\.')}\\.1[0-5]\\d/24`));
    assert.match(r.stdout, /from-the-test-server/);
    assert.deepEqual(entriesOf('/run/netns'), netnsBefore, 'its network namespace is gone');
    assert.equal(spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length, 2, "only the test's own two veths are left on the bridge");
    assert.deepEqual(
      entriesOf(join(dir, 'ipam', `run-${tag}`)).filter((f) => /^\d/.test(f)),
      [],
      'its address was released',
    );
  });

  it("--network ns:PATH joins an existing namespace (its address is the VM's) and leaves it as it was", async () => {
    const r = await runMayu([
      'run',
      '--rm',
      '--network',
      `ns:/run/netns/${handNs}`,
      '--config',
      vms.configFile(),
      (await testImage()).layout,
      '--',
      'sh',
      '-c',
      `ip -4 -o addr show dev eth0; ${fetch(`${subnet}.2`)}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`inet ${subnet.replace(/\./g, '\\.')}\\.3/24`));
    assert.match(r.stdout, /from-the-test-server/);
    const left = spawnSync('ip', ['-n', handNs, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(left, /_mayu/, 'no tap is left');
    assert.equal(spawnSync('tc', ['-n', handNs, 'qdisc', 'show', 'dev', 'eth0', 'ingress'], { encoding: 'utf8' }).stdout.trim(), '', 'no ingress qdisc is left');
  });

  it("--network ns: naming the host's own namespace (by any path: a pin of it too) is refused before a VM boots, and the host's namespace is untouched; a path that is no namespace is named", async () => {
    const pin = join(dir, 'host-net-pin');
    writeFileSync(pin, '');
    sh(`mount --bind /proc/self/ns/net ${pin}`);
    try {
      const hostBefore = namespaceState('/proc/self/ns/net');
      for (const path of ['/proc/self/ns/net', '/proc/1/ns/net', pin]) {
        if (path === '/proc/1/ns/net' && spawnSync('readlink', [path]).status !== 0) continue; // closed to root on some machines
        const r = await runMayu(['run', '--rm', '--network', `ns:${path}`, '--config', vms.configFile(), (await testImage()).layout, '--', 'true']);
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, new RegExp(`--network: is the host's own network namespace: the container would share the host's \\(Kubernetes hostNetwork\\).*"ns:${path.replace(/\//g, '\\/')}"`));
        assert.deepEqual(entriesOf(join(vms.stateRoot, 'sandboxes')), [], 'no VM was booted');
      }
      assert.equal(namespaceState('/proc/self/ns/net'), hostBefore, "the host's namespace is unchanged");
      const none = await runMayu(['run', '--rm', '--network', `ns:${join(dir, 'www')}`, '--config', vms.configFile(), (await testImage()).layout, '--', 'true']);
      assert.equal(none.code, 125);
      assert.match(none.stderr, /--network: names no network namespace \(not a namespace file, or gone\)/);
    } finally {
      sh(`umount ${pin}`);
    }
  });

  it('-p HOSTPORT:CTRPORT publishes a port through the portmap plugin, and its rules go with the container', async function () {
    if (spawnSync('iptables', ['-t', 'nat', '-S']).status !== 0) this.skip();
    // The host's own address on the test bridge (a route to the test subnet only).
    sh(`ip addr add ${subnet}.1/24 dev ${bridge}`);
    const hostPort = 20000 + (randomBytes(2).readUInt16BE(0) % 20000);
    const run = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/.bin/mayu'),
        'run',
        '--rm',
        '--network',
        `cni:pm-${tag}`,
        '-p',
        `${hostPort}:8080`,
        '--config',
        vms.configFile(),
        (await testImage()).layout,
        '--',
        'sh',
        '-c',
        `mkdir -p /www; echo via-portmap > /www/index.html; httpd -f -p 8080 -h /www & sleep 15`,
      ],
      { env: { ...process.env, MAYU_CNI_CONF_DIR: join(dir, 'cni') }, stdio: 'ignore' },
    );
    const done = new Promise((r) => run.once('exit', r));
    let got = '';
    for (let i = 0; i < 40 && !got.includes('via-portmap'); i++) {
      got = spawnSync('sh', ['-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${subnet}.1 ${hostPort} 2>/dev/null | tail -n 1`], { encoding: 'utf8', timeout: 5000 }).stdout;
      if (!got.includes('via-portmap')) await new Promise((r) => setTimeout(r, 500));
    }
    await done;
    assert.match(got, /via-portmap/, 'the published port reaches the container in its VM');
    assert.doesNotMatch(spawnSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8' }).stdout, new RegExp(`dport ${hostPort}`), 'its DNAT rule is gone with it');
  });

  it('without --network, a container has only lo, as with runc', async () => {
    const r = await runMayu(['run', '--rm', '--config', vms.configFile(), (await testImage()).layout, '--', 'sh', '-c', 'ls /sys/class/net']);
    assert.equal(r.stdout.trim(), 'lo');
  });
});
