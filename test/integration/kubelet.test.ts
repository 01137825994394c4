import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { EXAMPLE_IMAGE, NET_TOOLS_IMAGE, containerdMatrix, PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, execShell, podSandboxConfig, removePodsQuietly } from '../helpers/cri-client.js';
import { ChannelStream } from '../helpers/k8s-stream.js';
import { cgroupMounts, removeCgroupTree } from '../helpers/leftovers.js';

/** The paths of the fields a stats message fills (values left out), to compare what two runtimes report. */
function present(value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.length > 0 ? [`${path}[]`] : [];
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => (k === 'attributes' || k === 'containers' ? (v ? [`${path}.${k}`] : []) : present(v, `${path}.${k}`)));
  return typeof value === 'bigint' || typeof value === 'number' ? [path] : [];
}

/** Polls `check` every 50 ms until it holds, or fails after `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await sleep(50);
  }
}

/** Waits until what arrived on `channel` matches `re`; returns all of it. */
function waitForOutput(stream: ChannelStream, channel: number, re: RegExp, ms = 60_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)} on channel ${channel}; got ${JSON.stringify(text)}`)), ms);
    const onMessage = (ch: number, data: Buffer): void => {
      if (ch !== channel) return;
      text += data.toString();
      if (re.test(text)) {
        clearTimeout(timer);
        stream.off('message', onMessage);
        resolve(text);
      }
    };
    stream.on('message', onMessage);
    stream.once('close', () => {
      clearTimeout(timer);
      if (!re.test(text)) reject(new Error(`the stream closed before ${String(re)} on channel ${channel}; got ${JSON.stringify(text)}`));
    });
  });
}

/**
 * What kubelet asks of a runtime class beyond running containers, through
 * containerd's CRI and its streaming server, as kubectl would: exec -it,
 * attach, privileged pods, mount propagation, port-forward. Real containerd,
 * real VMs; traffic only inside the pods' own namespaces.
 */
for (const version of containerdMatrix())
  describe(`kubelet features through CRI under the mayu handler (real containerd ${version}, VMs)`, function () {
    let ctrd: PrivateContainerd;
    let cri: CriClient;
    let failed: string | undefined;
    const pods: string[] = [];
    /** Host mounts a test made (unmounted after it, deepest first). */
    const hostMounts: string[] = [];

    before(async () => {
      ctrd = await PrivateContainerd.start({ version });
      cri = new CriClient(ctrd.address);
    });
    afterEach(async function () {
      if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
      await removePodsQuietly(cri, pods.splice(0));
      for (const m of hostMounts.splice(0).reverse()) spawnSync('umount', ['-l', m]);
      await ctrd.settle();
    });
    after(async () => {
      cri?.close();
      await ctrd?.stop(failed);
    });

    async function pod(
      name: string,
      o: { privileged?: boolean; handler?: string; cgroupParent?: string; resources?: Partial<criWire.LinuxContainerResources> } = {},
    ): Promise<{ id: string; ip: string; config: criWire.PodSandboxConfig }> {
      const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`, {
        linux: criWire.LinuxPodSandboxConfig.fromPartial({
          resources: o.resources ? criWire.LinuxContainerResources.fromPartial(o.resources) : undefined,
          cgroupParent: o.cgroupParent ?? '',
          securityContext: { namespaceOptions: criWire.NamespaceOption.fromPartial({}), privileged: o.privileged ?? false },
        }),
      });
      const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: o.handler ?? 'mayu' });
      pods.push(podSandboxId);
      const ip = (await cri.podSandboxStatus({ podSandboxId, verbose: false })).status?.network?.ip ?? '';
      return { id: podSandboxId, ip, config };
    }

    async function container(p: { id: string; config: criWire.PodSandboxConfig }, config: Partial<criWire.ContainerConfig> & { metadata: { name: string; attempt: number } }): Promise<string> {
      const { containerId } = await cri.createContainer({
        podSandboxId: p.id,
        config: criWire.ContainerConfig.fromPartial({ image: { image: EXAMPLE_IMAGE }, logPath: `${config.metadata.name}.log`, ...config }),
        sandboxConfig: p.config,
      });
      await cri.startContainer({ containerId });
      return containerId;
    }

    const execIn = (containerId: string, script: string): Promise<{ code: number; out: string }> => execShell(cri, containerId, script);

    it('exec -it and attach with 64-character ids: stdin, a terminal at the size kubectl sends (resize), the exit code', async () => {
      const p = await pod('tty');
      const c = await container(p, { metadata: { name: 'shell', attempt: 0 }, command: ['sh'], stdin: true, tty: true });
      assert.equal(c.length, 64, "containerd's container id");

      const { url } = await cri.exec({ containerId: c, cmd: ['sh'], tty: true, stdin: true, stdout: true, stderr: false });
      const exec = await ChannelStream.connect(url);
      const status = waitForOutput(exec, 3, /"status":"(Success|Failure)"/);
      exec.send(4, JSON.stringify({ Width: 91, Height: 27 }));
      // The size reaches the guest's terminal asynchronously: the shell waits a moment first.
      exec.send(0, 'sleep 1; stty size; echo "sum $((6*7))"; tty; exit 3\n');
      const out = await waitForOutput(exec, 1, /sum 42[\s\S]*\/dev\/pts\/\d+/);
      assert.match(out, /^27 91\r?$/m, `stty size in the exec: ${JSON.stringify(out)}`);
      const exit = JSON.parse(await status) as { status: string; details?: { causes?: { reason: string; message: string }[] } };
      assert.equal(exit.status, 'Failure');
      assert.deepEqual(exit.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
      exec.close();

      const { url: attachUrl } = await cri.attach({ containerId: c, stdin: true, tty: true, stdout: true, stderr: false });
      const attach = await ChannelStream.connect(attachUrl);
      attach.send(4, JSON.stringify({ Width: 77, Height: 19 }));
      attach.send(0, 'sleep 1; stty size; echo "attached $((1+1))"\n');
      const seen = await waitForOutput(attach, 1, /attached 2/);
      assert.match(seen, /^19 77\r?$/m, `stty size after attach's resize: ${JSON.stringify(seen)}`);
      attach.close();
      const state = (await cri.containerStatus({ containerId: c, verbose: false })).status?.state;
      assert.equal(state, criWire.ContainerState.CONTAINER_RUNNING, 'detaching leaves the container running');
    });

    it("privileged means privileged inside the VM: a bridge, a veth pair, iptables NAT, the guest's devices (never the host's), overlayfs; CAP_NET_ADMIN alone makes a bridge; without it, refused; the host is untouched", async () => {
      const hostNatBefore = execFileSync('iptables', ['-w', '5', '-t', 'nat', '-S'], { encoding: 'utf8' });
      const p = await pod('priv', { privileged: true });
      const sleeper = (name: string, securityContext: Partial<criWire.LinuxContainerSecurityContext>) =>
        container(p, {
          metadata: { name, attempt: 0 },
          image: { image: NET_TOOLS_IMAGE },
          command: ['sleep', '3600'],
          linux: criWire.LinuxContainerConfig.fromPartial({ securityContext: criWire.LinuxContainerSecurityContext.fromPartial(securityContext) }),
        });
      const privileged = await sleeper('privileged', { privileged: true });
      const r = await execIn(
        privileged,
        [
          'set -e',
          // iproute2's ip, not busybox's applet (busybox sh prefers its applets whatever PATH says).
          'ip() { /usr/sbin/ip "$@"; }',
          'ip link add br0 type bridge',
          'ip link add v0 type veth peer name v1',
          'ip link set v0 master br0',
          'ip link set br0 up',
          'ip link add link v1 name v1.10 type vlan id 10',
          'ip link add mv0 link v1 type macvlan mode bridge',
          'ip tuntap add dev tun0 mode tun',
          'iptables -t nat -A POSTROUTING -s 10.99.0.0/24 ! -o br0 -j MASQUERADE',
          'iptables -t nat -A PREROUTING -p tcp --dport 8080 -m conntrack --ctstate NEW -j DNAT --to-destination 10.99.0.2:80',
          'iptables -t nat -S',
          'ip -o link show master br0 | grep -q v0@v1 && echo v0-on-br0',
          'test -d /proc/net/ip_vs_stats || test -e /proc/net/ip_vs && echo ipvs-ok',
          'test -c /dev/net/tun && echo tun-device',
          'test ! -e /dev/kvm && echo no-host-kvm',
          'mkdir -p /tmp/ov && mount -t tmpfs t /tmp/ov && mkdir /tmp/ov/u /tmp/ov/w /tmp/ov/m',
          'mount -t overlay overlay -o lowerdir=/etc,upperdir=/tmp/ov/u,workdir=/tmp/ov/w /tmp/ov/m && test -f /tmp/ov/m/passwd && echo overlay-ok',
        ].join('\n'),
      );
      assert.equal(r.code, 0, r.out);
      for (const line of ['-A POSTROUTING -s 10.99.0.0/24 ! -o br0 -j MASQUERADE', '-j DNAT --to-destination 10.99.0.2:80', 'v0-on-br0', 'ipvs-ok', 'tun-device', 'no-host-kvm', 'overlay-ok']) {
        assert.ok(r.out.includes(line), `${line} in:\n${r.out}`);
      }
      const netAdmin = await sleeper('net-admin', { capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: [] } });
      const made = await execIn(netAdmin, '/usr/sbin/ip link add br1 type bridge && echo bridge-made');
      assert.deepEqual([made.code, made.out.trim()], [0, 'bridge-made']);
      const plain = await sleeper('plain', {});
      const refused = await execIn(plain, '/usr/sbin/ip link add br2 type bridge');
      assert.notEqual(refused.code, 0);
      assert.match(refused.out, /Operation not permitted/);
      // All of it happened in the guest.
      assert.equal(spawnSync('ip', ['link', 'show', 'br0']).status, 1, 'no br0 on the host');
      assert.equal(execFileSync('iptables', ['-w', '5', '-t', 'nat', '-S'], { encoding: 'utf8' }), hostNatBefore, "the host's NAT table is unchanged");
    });

    it('mount propagation: rprivate stays private, rslave (HostToContainer) shows a host mount made after start, rshared (Bidirectional) is refused naming the mount', async () => {
      const vol = join(ctrd.dir, `vol-${randomBytes(3).toString('hex')}`);
      mkdirSync(vol);
      // kubelet needs a HostToContainer source on a shared mount: so does containerd.
      execFileSync('mount', ['--bind', vol, vol]);
      hostMounts.push(vol);
      execFileSync('mount', ['--make-shared', vol]);
      const p = await pod('propagation');
      const withVolume = (name: string, propagation: criWire.MountPropagation) =>
        container(p, {
          metadata: { name, attempt: 0 },
          command: ['sleep', '3600'],
          mounts: [criWire.Mount.fromPartial({ containerPath: '/v', hostPath: vol, propagation })],
        });
      const priv = await withVolume('private', criWire.MountPropagation.PROPAGATION_PRIVATE);
      const slave = await withVolume('slave', criWire.MountPropagation.PROPAGATION_HOST_TO_CONTAINER);
      mkdirSync(join(vol, 'later'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(vol, 'later')]);
      hostMounts.push(join(vol, 'later'));
      writeFileSync(join(vol, 'later/file'), 'mounted by the host after start\n');
      assert.deepEqual(await execIn(slave, 'cat /v/later/file'), { code: 0, out: 'mounted by the host after start\n' });
      assert.deepEqual(await execIn(priv, 'ls -A /v/later; echo end'), { code: 0, out: 'end\n' }, 'a private volume does not see it');
      await assert.rejects(withVolume('bidirectional', criWire.MountPropagation.PROPAGATION_BIDIRECTIONAL), (err: Error) => {
        assert.match(
          err.message,
          /\/mounts\/\d+\/options: bidirectional mount propagation cannot be honoured in a VM: a mount made in the guest cannot reach the host through 9p or virtio-fs .*\(got "rshared"\)/,
        );
        return true;
      });
      assert.equal(ctrd.vms().length, 1, 'the refusal left the pod as it was');
    });

    it("port-forward reaches a server on 0.0.0.0 and one on the pod IP only, through containerd's streaming server; a closed port closes the connection", async () => {
      const p = await pod('forward');
      assert.match(p.ip, /^10\.233\.\d+\.\d+$/);
      const serve = (port: number, host: string): string[] => ['sh', '-c', `mkdir -p /www && echo page-${port} > /www/index.html && exec httpd -f -p ${host}${port} -h /www`];
      await container(p, { metadata: { name: 'any', attempt: 0 }, command: serve(8080, '') });
      await container(p, { metadata: { name: 'pod-ip', attempt: 0 }, command: serve(8081, `${p.ip}:`) });
      for (const port of [8080, 8081]) {
        let body = '';
        let errors = '';
        // The servers come up in their own time: a few bounded tries.
        for (let i = 0; i < 10 && !body.includes(`page-${port}`); i++) {
          const { url } = await cri.portForward({ podSandboxId: p.id, port: [port] });
          const s = await ChannelStream.connect(url);
          const data: Buffer[] = [];
          const errs: Buffer[] = [];
          s.on('message', (ch, d) => (ch === 0 ? data : errs).push(d));
          s.send(0, 'GET /index.html HTTP/1.0\r\n\r\n');
          // Newer streaming servers open each channel with the port (two bytes, little-endian); containerd 1.6's does not.
          const received = (): string => Buffer.concat(data.filter((d, n) => !(n === 0 && d.length === 2 && d.readUInt16LE(0) === port))).toString();
          await until(() => received().includes(`page-${port}`), 10_000).catch(() => {});
          body = received();
          errors = Buffer.concat(errs).toString();
          s.close();
          if (!body.includes(`page-${port}`)) await sleep(500);
        }
        assert.match(body, new RegExp(`HTTP/1\\.[01] 200 OK[\\s\\S]*page-${port}`), `port ${port} (errors: ${errors})`);
      }
      // A port nothing listens on: the forwarded connection is closed, with nothing on it.
      const { url } = await cri.portForward({ podSandboxId: p.id, port: [9] });
      const s = await ChannelStream.connect(url);
      const data: Buffer[] = [];
      s.on('message', (ch, d) => ch === 0 && d.length !== 2 && data.push(d));
      let closed = false;
      s.once('close', () => (closed = true));
      s.send(0, 'hello?\n');
      await until(() => closed, 30_000);
      assert.deepEqual(data, []);
    });

    it("a pod's VM holds its containers' limits — sized at the start from the sandbox's (containerd 1.7+), grown at each CreateContainer (1.6) and at a resize: a 1 GiB / 2-CPU container holds 700 MiB, sees 3 CPUs and keeps more than one busy while a 700 MiB one holds 600; one limited beyond max_memory is refused naming it", async function () {
      const MiB = 2n ** 20n;
      const limits = (mib: bigint, cpus = 0n) =>
        criWire.LinuxContainerConfig.fromPartial({ resources: { memoryLimitInBytes: mib * MiB, ...(cpus > 0n ? { cpuQuota: cpus * 100_000n, cpuPeriod: 100_000n } : {}) } });
      // What kubelet sends: the pod's resources are the sum of its containers' limits (containerd 1.6 passes none on).
      const kubepods = `/mayu-test-kubepods-${randomBytes(3).toString('hex')}`;
      try {
        const p = await pod('sized', { cgroupParent: `${kubepods}/pod-sized`, resources: { memoryLimitInBytes: (1024n + 700n) * MiB, cpuQuota: 200_000n, cpuPeriod: 100_000n } });
        // The pod's host cgroup bounds its VM at the VM's memory plus the VMM's (192 MiB, and the 128 MiB TCG buffer under TCG).
        const hostBound = (): string[] =>
          cgroupMounts()
            .flatMap((m) => ['memory.max', 'memory.limit_in_bytes'].map((f) => join(m, kubepods, 'pod-sized', p.id, f)))
            .filter((f) => existsSync(f))
            .map((f) => readFileSync(f, 'utf8').trim());
        // dd holds its one block resident while sleep never reads the pipe.
        const holder = await container(p, { metadata: { name: 'holder', attempt: 0 }, command: ['sh', '-c', 'dd if=/dev/zero bs=600M count=1 | sleep 3600'], linux: limits(700n) });
        const big = await container(p, { metadata: { name: 'big', attempt: 0 }, command: ['sleep', '3600'], linux: limits(1024n, 2n) });
        const deadline = Date.now() + 120_000;
        const workingSet = async (): Promise<bigint> => (await cri.containerStats({ containerId: holder })).stats?.memory?.workingSetBytes?.value ?? 0n;
        while (Date.now() < deadline && (await workingSet()) < 600n * MiB) await sleep(500);
        assert.ok((await workingSet()) >= 600n * MiB, 'the holder holds 600 MiB');
        // 700 MiB beside the holder's 600 (the default VM has 512 MiB in all).
        const held = await execIn(big, 'dd if=/dev/zero of=/dev/null bs=700M count=1');
        assert.equal(held.code, 0, held.out);
        assert.match(held.out, /1\+0 records out/, 'the container held 700 MiB');
        const cpus = await execIn(big, 'nproc');
        assert.equal(cpus.code, 0);
        assert.ok(Number(cpus.out) >= 3, `nproc: ${cpus.out} (the default 1 and the container's 2)`);
        // Two busy loops for 4 s: the container's 2-CPU quota in a VM with 3 vCPUs runs both at once (more than one CPU's worth).
        const busy = await execIn(
          big,
          [
            'cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)',
            'a=$(sed -n "s/^usage_usec //p" $cg/cpu.stat); t0=$(cut -d" " -f1 /proc/uptime)',
            "timeout 4 sh -c 'while :; do :; done' & timeout 4 sh -c 'while :; do :; done' & wait",
            'b=$(sed -n "s/^usage_usec //p" $cg/cpu.stat); t1=$(cut -d" " -f1 /proc/uptime)',
            'echo $a $b $t0 $t1',
          ].join('\n'),
        );
        const [u0, u1, w0, w1] = busy.out.trim().split(/\s+/).map(Number);
        const cpusBusy = ((u1 ?? 0) - (u0 ?? 0)) / 1e6 / ((w1 ?? 0) - (w0 ?? 0));
        assert.ok(cpusBusy > 1.2, `the container kept more than one CPU busy: ${cpusBusy.toFixed(2)} CPUs (${busy.out.trim()})`);
        const memTotal = async (): Promise<number> => Number(/MemTotal:\s+(\d+)/.exec((await execIn(big, 'cat /proc/meminfo')).out)?.[1] ?? 0) * 1024;
        assert.ok((await memTotal()) >= (512 + 1024 + 700 - 64) * 2 ** 20, `the VM has room for both limits and its base: MemTotal ${await memTotal()}`);
        const tcg = ctrd.vms().length > 0 && readFileSync(`/proc/${ctrd.vms()[0]}/cmdline`, 'utf8').includes('tcg');
        const bound = (vmMib: number) => String((vmMib + 192 + (tcg ? 128 : 0)) * 2 ** 20);
        assert.deepEqual([...new Set(hostBound())], [bound(512 + 1024 + 700)], "the pod's host cgroup bounds the VM");

        // Resized to 1.5 GiB, the container holds 1.2 GiB beside the holder: the VM grew with it.
        await cri.updateContainerResources({ containerId: big, linux: limits(1536n, 2n).resources, annotations: {} });
        const grown = await execIn(big, 'dd if=/dev/zero of=/dev/null bs=1200M count=1');
        assert.equal(grown.code, 0, `resized to 1.5 GiB, 1.2 GiB fits: ${grown.out}`);
        assert.ok((await memTotal()) >= (512 + 1536 + 700 - 64) * 2 ** 20, `the VM grew: MemTotal ${await memTotal()}`);
        assert.ok((await workingSet()) >= 600n * MiB, 'the holder still holds its 600 MiB');
        assert.deepEqual([...new Set(hostBound())], [bound(512 + 1536 + 700)], 'the bound follows the VM as it grows');

        // A container limited to more than any VM may have (max_memory, 8 GiB by default) is refused naming its limit; on 1.7+ a pod too.
        await assert.rejects(
          container(p, { metadata: { name: 'too-big', attempt: 0 }, command: ['true'], linux: limits(16n * 1024n) }),
          /memory\/limit.*more memory than a VM may have \(sandbox\.max_memory = 8192 MiB\)/,
        );
        if (version !== '1.6') {
          await assert.rejects(
            pod('too-big', { resources: { memoryLimitInBytes: 16n * 2n ** 30n } }),
            /io\.kubernetes\.cri\.sandbox-memory.*more than a VM may have \(sandbox\.max_memory = 8192 MiB\)/,
          );
        }
        assert.equal(ctrd.vms().length, 1, "only the sized pod's VM runs");
        await removePodsQuietly(cri, pods.splice(0));
      } finally {
        await removePodsQuietly(cri, pods.splice(0));
        // The shim removes the cgroups it made as it exits: wait for it, then remove what kubelet would.
        await ctrd.settle();
        removeCgroupTree(kubepods);
      }
    });

    it("CDI devices (containerd 1.7+): a device's environment and mounts reach the container; a device node the VM cannot have is refused naming it, where runc makes it; the pod lives on", async function () {
      if (version === '1.6') this.skip(); // containerd 1.6's CRI has no CDI
      const share = join(ctrd.dir, 'cdi-share');
      mkdirSync(share, { recursive: true });
      writeFileSync(join(share, 'hello'), 'from a CDI mount\n');
      writeFileSync(
        join(ctrd.cdiDir, 'mayu-test.json'),
        JSON.stringify({
          cdiVersion: '0.5.0',
          kind: 'mayu.test/dev',
          devices: [
            { name: 'edits', containerEdits: { env: ['MAYU_CDI=edits'], mounts: [{ hostPath: share, containerPath: '/cdi-share', options: ['ro', 'bind'] }] } },
            { name: 'node', containerEdits: { env: ['MAYU_CDI=node'], deviceNodes: [{ path: '/dev/mayu-cdi-test', type: 'c', major: 240, minor: 7 }] } },
          ],
        }),
      );
      const cdi = (name: string) => ({ CDIDevices: [{ name: `mayu.test/dev=${name}` }] });
      const check = 'echo "$MAYU_CDI"; cat /cdi-share/hello 2>/dev/null; test -c /dev/mayu-cdi-test && echo node';
      // runc: both devices as CDI says.
      const runcPod = await pod('cdi-runc', { handler: 'runc' });
      const runcEdits = await container(runcPod, { metadata: { name: 'edits', attempt: 0 }, command: ['sleep', '3600'], ...cdi('edits') });
      assert.match((await execIn(runcEdits, check)).out, /^edits\nfrom a CDI mount\n$/);
      const runcNode = await container(runcPod, { metadata: { name: 'node', attempt: 0 }, command: ['sleep', '3600'], ...cdi('node') });
      const nodeSeen = await execIn(runcNode, check);
      assert.equal(nodeSeen.out, 'node\nnode\n', 'runc makes the node');
      // mayu: the edits reach the container; a node no VM has is refused, naming it.
      const p = await pod('cdi');
      const edits = await container(p, { metadata: { name: 'edits', attempt: 0 }, command: ['sleep', '3600'], ...cdi('edits') });
      const seen = await execIn(edits, check);
      assert.equal(seen.out, 'edits\nfrom a CDI mount\n', "the CDI device's environment and mount");
      await assert.rejects(
        container(p, { metadata: { name: 'node', attempt: 0 }, command: ['sleep', '3600'], ...cdi('node') }),
        /\/linux\/devices\/\d+\/path: the VM has no such device \(host c 240:7\).*passthrough.*\/dev\/mayu-cdi-test/,
      );
      assert.equal((await cri.podSandboxStatus({ podSandboxId: p.id, verbose: false })).status?.state, criWire.PodSandboxState.SANDBOX_READY, 'the pod lives on');
      assert.equal((await execIn(edits, 'echo alive')).out, 'alive\n');
      assert.equal(ctrd.vms().length, 1, "one VM: the mayu pod's");
    });

    it('in-place resize (UpdateContainerResources): a container grows past its old memory limit; shrunk below what it holds, what it cannot give back is OOM-killed in its own cgroup (as with runc on cgroup v2), never the VM; a limit no VM may have is refused', async () => {
      const p = await pod('resize');
      const limited = (mib: number) => criWire.LinuxContainerConfig.fromPartial({ resources: { memoryLimitInBytes: BigInt(mib) << 20n } });
      const small = await container(p, { metadata: { name: 'small', attempt: 0 }, command: ['sleep', '3600'], linux: limited(32) });
      // tail keeps all it read until it can write it, and sleep never reads: 48 MiB held.
      const holder = await container(p, { metadata: { name: 'holder', attempt: 0 }, command: ['sh', '-c', 'head -c 50331648 /dev/zero | tail -c 50331648 | sleep 3600'], linux: limited(128) });
      const hold48 = 'dd if=/dev/zero of=/dev/null bs=48M count=1';
      assert.notEqual((await execIn(small, hold48)).code, 0, 'a 48 MiB block does not fit a 32 MiB limit');
      await cri.updateContainerResources({ containerId: small, linux: limited(128).resources, annotations: {} });
      const grown = await execIn(small, hold48);
      assert.equal(grown.code, 0, `resized to 128 MiB, it fits: ${grown.out}`);
      const limitFile = 'cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max"';
      assert.equal((await execIn(small, limitFile)).out.trim(), String(128 << 20));

      // The holder shrunk to 16 MiB while it holds 48: as the kernel does under runc on cgroup v2, the limit is set and
      // what cannot be reclaimed is OOM-killed inside the container's own cgroup — tail, holding the 48 MiB (sleep may live
      // on), or the whole container, as the OOM killer chooses. Either way its memory is within the new limit.
      const deadline = Date.now() + 120_000;
      const holderState = async (): Promise<criWire.ContainerStatus | undefined> => (await cri.containerStatus({ containerId: holder, verbose: false })).status;
      const workingSet = async (): Promise<bigint> => (await cri.containerStats({ containerId: holder })).stats?.memory?.workingSetBytes?.value ?? 0n;
      while (Date.now() < deadline && (await workingSet()) < 48n << 20n) await sleep(500);
      await cri.updateContainerResources({ containerId: holder, linux: limited(16).resources, annotations: {} });
      const running = async (): Promise<boolean> => (await holderState())?.state === criWire.ContainerState.CONTAINER_RUNNING;
      while (Date.now() < deadline && (await running()) && (await workingSet()) > 16n << 20n) await sleep(500);
      // CRI's state lags the task's: a container whose exec is refused as stopped has ended, whatever it said a moment ago.
      const limitNow = await execIn(holder, limitFile).catch((err: Error) => err);
      if (limitNow instanceof Error) {
        assert.match(limitNow.message, /is stopped|not running/, 'only a stopped holder refuses the exec');
        while (Date.now() < deadline && (await running())) await sleep(200);
        const ended = await holderState();
        assert.deepEqual([ended?.state, ended?.exitCode], [criWire.ContainerState.CONTAINER_EXITED, 137], `the holder was killed (SIGKILL): ${ended?.reason} ${ended?.message}`);
      } else {
        assert.ok((await workingSet()) <= 16n << 20n, `the holder's memory is within its new limit: ${await workingSet()}`);
        assert.equal(limitNow.out.trim(), String(16 << 20), 'its cgroup has the new limit');
      }
      // Whatever the holder's fate, the pod and its other container live on.
      assert.equal((await cri.podSandboxStatus({ podSandboxId: p.id, verbose: false })).status?.state, criWire.PodSandboxState.SANDBOX_READY, 'the pod is ready after the shrink');
      const alive = await execIn(small, 'echo alive');
      assert.deepEqual([alive.code, alive.out.trim()], [0, 'alive'], 'the other container answers');
      assert.equal(ctrd.vms().length, 1, 'the VM runs');

      // Beyond what any VM may have: refused naming the limit.
      await assert.rejects(cri.updateContainerResources({ containerId: small, linux: limited(16 * 1024).resources, annotations: {} }), /memory\/limit.*sandbox\.max_memory/);
    });

    it("stats where kubelet reads them: a container's CPU and memory from its cgroup in the guest, the pod's from its host cgroup, which holds the VM; the same fields as runc's on this version; the pod's cgroup goes with the pod", async () => {
      // As kubelet's cgroupfs driver names them; the test makes and removes the parent, as kubelet does.
      const kubepods = `/mayu-test-kubepods-${randomBytes(3).toString('hex')}`;
      const hold = 48 * 1024 * 1024;
      // tail keeps all it read until it can write it, and sleep never reads: 48 MiB held.
      const holder = ['sh', '-c', `head -c ${hold} /dev/zero | tail -c ${hold} | sleep 3600`];
      const measured: Record<string, { container: criWire.ContainerStats; pod: criWire.PodSandboxStats }> = {};
      try {
        for (const handler of ['runc', 'mayu']) {
          const p = await pod(`stats-${handler}`, { handler, cgroupParent: `${kubepods}/pod-${handler}` });
          const c = await container(p, { metadata: { name: 'holder', attempt: 0 }, command: holder });
          let stats: criWire.ContainerStats | undefined;
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            stats = (await cri.containerStats({ containerId: c })).stats;
            if ((stats?.memory?.workingSetBytes?.value ?? 0n) >= BigInt(hold)) break;
            await sleep(500);
          }
          const podStats = (await cri.podSandboxStats({ podSandboxId: p.id })).stats;
          assert.ok(stats && podStats, `${handler}: stats answered`);
          measured[handler] = { container: stats, pod: podStats };
          if (handler === 'mayu') {
            // The VM (QEMU) and its shim are in the pod's host cgroup, in every hierarchy.
            const memoryDir = cgroupMounts().map((m) => join(m, kubepods, 'pod-mayu', p.id));
            for (const dir of memoryDir) {
              const comms = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
                .trim()
                .split('\n')
                .filter(Boolean)
                .map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
              assert.ok(
                comms.some((c) => c.startsWith('qemu-system')),
                `QEMU is in ${dir}: ${comms.join(', ')}`,
              );
            }
            const listed = (await cri.listContainerStats({ filter: { id: '', podSandboxId: p.id, labelSelector: {} } })).stats.map((x) => x.attributes?.id);
            assert.deepEqual(listed, [c], "ListContainerStats by pod lists the pod's container");
            const pods = (await cri.listPodSandboxStats({ filter: { id: p.id, labelSelector: {} } })).stats.map((x) => x.attributes?.id);
            assert.deepEqual(pods, [p.id], 'ListPodSandboxStats by id lists the pod');
          }
        }
        const runc = measured.runc;
        const mayu = measured.mayu;
        // What runc reports on this version, mayu reports too.
        assert.deepEqual(present(mayu.container), present(runc.container), 'container stats: the fields runc fills');
        assert.deepEqual(present(mayu.pod), present(runc.pod), 'pod stats: the fields runc fills');
        // The container's own figures, from its cgroup in the guest.
        assert.ok((mayu.container.memory?.workingSetBytes?.value ?? 0n) >= BigInt(hold), `the container's working set holds what it holds: ${mayu.container.memory?.workingSetBytes?.value}`);
        assert.ok((mayu.container.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'the container used CPU');
        // Without a limit of its own, what it may still take is bounded by the VM (the containers' cap in the guest).
        const available = mayu.container.memory?.availableBytes?.value ?? 0n;
        assert.ok(available > 0n && available < 4n << 30n, `available bytes below the VM's memory: ${available}`);
        assert.deepEqual(
          mayu.pod.linux?.containers.map((x) => x.attributes?.id),
          [mayu.container.attributes?.id],
          "the pod's stats carry its container's",
        );
        // The pod's figures from its host cgroup: the whole VM (the guest's memory it touched, QEMU, the shim), more than the container alone.
        const podMemory = mayu.pod.linux?.memory?.usageBytes?.value ?? 0n;
        assert.ok(podMemory > (mayu.container.memory?.workingSetBytes?.value ?? 0n), `the pod's host memory (${podMemory}) counts the VM, beyond the container's own`);
        assert.ok((mayu.pod.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > (mayu.container.cpu?.usageCoreNanoSeconds?.value ?? 0n), "the pod's CPU counts the VM's");
        await removePodsQuietly(cri, pods.splice(0));
        for (const m of cgroupMounts()) assert.equal(existsSync(join(m, kubepods, 'pod-mayu', measured.mayu.pod.attributes?.id ?? '')), false, `the pod's cgroup is gone from ${m}`);
        // What kubelet removes after a pod: its cgroups, by then without a process.
        assert.deepEqual(removeCgroupTree(kubepods), [], "no process is left in the pods' cgroups");
      } finally {
        await removePodsQuietly(cri, pods.splice(0));
        removeCgroupTree(kubepods);
      }
    });
  });
