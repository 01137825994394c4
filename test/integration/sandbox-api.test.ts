import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { containerdMatrix, EXAMPLE_IMAGE, PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, execShell, podSandboxConfig, removePodsQuietly } from '../helpers/cri-client.js';
import { ChannelStream } from '../helpers/k8s-stream.js';
import { cgroupMounts, processesMentioning, removeCgroupTree } from '../helpers/leftovers.js';

/** The QEMU processes of pod `id` (their command lines name its state directory). */
const qemuOf = (id: string): number[] =>
  processesMentioning(id)
    .filter((p) => /qemu-system/.test(p.cmdline.split(' ')[0] ?? ''))
    .map((p) => p.pid);

/**
 * containerd 2.x's Sandbox API (`sandboxer = "shim"`, the `mayu-sandbox`
 * handler of the test containerd): CRI drives the pod through the shim's
 * Sandbox service — no pause container, no config.json for the pod — and its
 * containers through the Task API on the same socket. Real containerd 2.1,
 * real VMs; traffic only inside the pod's own namespace.
 */
(containerdMatrix().includes('2.1') ? describe : describe.skip)('the Sandbox API: pods of containerd 2.1 with sandboxer = "shim" (real containerd, VMs)', function () {
  let ctrd: PrivateContainerd;
  let cri: CriClient;
  let failed: string | undefined;
  const pods: string[] = [];

  before(async () => {
    ctrd = await PrivateContainerd.start({ version: '2.1' });
    cri = new CriClient(ctrd.address);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
    await removePodsQuietly(cri, pods.splice(0));
    await ctrd.settle();
  });
  after(async () => {
    cri?.close();
    await ctrd?.stop(failed);
  });

  async function runPod(
    name: string,
    linux: Partial<criWire.LinuxPodSandboxConfig> = {},
    over: Partial<criWire.PodSandboxConfig> = {},
  ): Promise<{ id: string; ip: string; config: criWire.PodSandboxConfig }> {
    const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`, {
      linux: criWire.LinuxPodSandboxConfig.fromPartial({
        securityContext: { privileged: false, namespaceOptions: criWire.NamespaceOption.fromPartial({ pid: criWire.NamespaceMode.CONTAINER }) },
        ...linux,
      }),
      ...over,
    });
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: 'mayu-sandbox' });
    pods.push(podSandboxId);
    const ip = (await cri.podSandboxStatus({ podSandboxId, verbose: false })).status?.network?.ip ?? '';
    return { id: podSandboxId, ip, config };
  }

  async function container(p: { id: string; config: criWire.PodSandboxConfig }, name: string, command: string[], linux?: Partial<criWire.LinuxContainerConfig>): Promise<string> {
    const { containerId } = await cri.createContainer({
      podSandboxId: p.id,
      config: criWire.ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, image: { image: EXAMPLE_IMAGE }, command, logPath: `${name}.log`, linux }),
      sandboxConfig: p.config,
    });
    await cri.startContainer({ containerId });
    return containerId;
  }

  const execIn = (containerId: string, script: string): Promise<{ code: number; out: string }> => execShell(cri, containerId, script);

  it('a pod with no pause container: its hostname, DNS and sysctls, a VM sized for its limits and counted in its host cgroup, two containers sharing its IPC, UTS and PID namespaces, exec, port-forward, stats; stopped, its VM is gone; removed, its shim; nothing left', async () => {
    const kubepods = `/mayu-test-kubepods-${randomBytes(3).toString('hex')}`;
    try {
      const p = await runPod(
        'sbx',
        {
          cgroupParent: `${kubepods}/pod-sbx`,
          sysctls: { 'net.ipv4.ping_group_range': '0 2147483647' },
          resources: criWire.LinuxContainerResources.fromPartial({ memoryLimitInBytes: 1n << 30n, cpuQuota: 200_000n, cpuPeriod: 100_000n }),
          securityContext: { privileged: false, namespaceOptions: criWire.NamespaceOption.fromPartial({ pid: criWire.NamespaceMode.POD }) },
        },
        { hostname: 'sbx-host', dnsConfig: { servers: ['10.233.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] } },
      );
      assert.match(p.ip, /^10\.233\.\d+\.\d+$/, 'the pod has its CNI address');
      const status = await cri.podSandboxStatus({ podSandboxId: p.id, verbose: true });
      assert.equal(status.status?.state, criWire.PodSandboxState.SANDBOX_READY);
      const [vm] = qemuOf(p.id);
      assert.ok(vm, 'a VM runs for the pod');
      assert.deepEqual(
        processesMentioning(p.id).filter((x) => /\/pause\b/.test(x.cmdline)),
        [],
        'no pause container',
      );

      // The VM and its shim are in the pod's host cgroup, in every hierarchy.
      for (const m of cgroupMounts()) {
        const procs = readFileSync(join(m, kubepods, 'pod-sbx', p.id, 'cgroup.procs'), 'utf8')
          .trim()
          .split('\n')
          .map(Number);
        assert.ok(procs.includes(vm), `QEMU (${vm}) is in the pod's cgroup under ${m}: ${procs.join(', ')}`);
      }

      const server = await container(p, 'server', ['sh', '-c', 'mkdir -p /www && echo page > /www/index.html && exec httpd -f -p 8080 -h /www']);
      const other = await container(p, 'other', ['sleep', '3600']);
      const inServer = await execIn(
        server,
        'hostname; cat /etc/resolv.conf; echo "ping_group_range $(cat /proc/sys/net/ipv4/ping_group_range)"; for n in ipc uts pid; do readlink /proc/self/ns/$n; done; nproc; grep MemTotal /proc/meminfo',
      );
      const inOther = await execIn(other, 'hostname; for n in ipc uts pid; do readlink /proc/self/ns/$n; done; ps -o comm | sort -u | tr "\\n" " "');
      assert.equal(inServer.code, 0, inServer.out);
      const [hostname, ...rest] = inServer.out.trim().split('\n');
      assert.equal(hostname, 'sbx-host', "the pod's hostname");
      assert.match(rest.join('\n'), /nameserver 10\.233\.0\.10/, "the pod's DNS server");
      assert.match(rest.join('\n'), /search default\.svc\.cluster\.local/, "the pod's search domains");
      assert.match(rest.join('\n'), /options ndots:5/, "the pod's DNS options");
      assert.match(rest.join('\n'), /ping_group_range 0\s+2147483647/, "the pod's sysctls");
      const namespaces = (out: string): string[] => out.split('\n').filter((l) => /^(ipc|uts|pid):/.test(l));
      assert.deepEqual(namespaces(inOther.out), namespaces(inServer.out), 'both containers are in the same IPC, UTS and PID namespaces');
      assert.equal(namespaces(inServer.out).length, 3);
      assert.match(inOther.out, /httpd/, "the other container sees the server's process (a shared PID namespace)");
      assert.ok(Number(rest.find((l) => /^\d+$/.test(l))) >= 3, `the VM has the default CPU plus the pod's 2: ${inServer.out}`);
      const memKb = Number(/MemTotal:\s+(\d+)/.exec(inServer.out)?.[1]);
      assert.ok(memKb > 1.2 * 1024 * 1024, `the VM has room for the pod's 1 GiB: MemTotal ${memKb} kB`);

      // port-forward through containerd's streaming server, into the VM.
      let body = '';
      for (let i = 0; i < 10 && !body.includes('page'); i++) {
        const { url } = await cri.portForward({ podSandboxId: p.id, port: [8080] });
        const s = await ChannelStream.connect(url);
        const data: Buffer[] = [];
        s.on('message', (ch, d) => ch === 0 && !(d.length === 2 && d.readUInt16LE(0) === 8080) && data.push(d));
        s.send(0, 'GET /index.html HTTP/1.0\r\n\r\n');
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && !Buffer.concat(data).toString().includes('page')) await sleep(100);
        body = Buffer.concat(data).toString();
        s.close();
        if (!body.includes('page')) await sleep(500);
      }
      assert.match(body, /HTTP\/1\.[01] 200 OK[\s\S]*page/, 'port-forward reaches the server in the VM');

      // Stats: the containers' from the guest, the pod's from SandboxMetrics: its host cgroup, which holds the VM.
      const podStats = (await cri.podSandboxStats({ podSandboxId: p.id })).stats;
      const podMemory = podStats?.linux?.memory?.workingSetBytes?.value ?? 0n;
      const containersMemory = (podStats?.linux?.containers ?? []).reduce((sum, c) => sum + (c.memory?.workingSetBytes?.value ?? 0n), 0n);
      assert.deepEqual(podStats?.linux?.containers.map((x) => x.attributes?.id).sort(), [server, other].sort(), "the pod's stats carry its containers'");
      assert.ok(podMemory > containersMemory + (32n << 20n), `the pod's working set (${podMemory}) counts the VM, beyond its containers' (${containersMemory})`);
      assert.ok((podStats?.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, "the pod's CPU");

      await cri.stopPodSandbox({ podSandboxId: p.id });
      assert.equal((await cri.podSandboxStatus({ podSandboxId: p.id, verbose: false })).status?.state, criWire.PodSandboxState.SANDBOX_NOTREADY);
      assert.deepEqual(qemuOf(p.id), [], 'stopped: its VM is gone');
      for (const m of cgroupMounts()) assert.equal(existsSync(join(m, kubepods, 'pod-sbx', p.id)), false, `stopped: its cgroup is gone from ${m}`);
      await cri.removePodSandbox({ podSandboxId: p.id });
      pods.splice(pods.indexOf(p.id), 1);
      const deadline = Date.now() + 10_000;
      while (processesMentioning(p.id).length > 0 && Date.now() < deadline) await sleep(100);
      assert.deepEqual(processesMentioning(p.id), [], 'removed: its shim is gone');
      assert.deepEqual(removeCgroupTree(kubepods), [], "no process is left in the pod's cgroups");
    } finally {
      await removePodsQuietly(cri, pods.splice(0));
      removeCgroupTree(kubepods);
    }
  });

  it('containerd restarted under a Sandbox-API pod: the pod stays ready with its container, exec works, and it stops and is removed with nothing left', async () => {
    const p = await runPod('sbx-restart');
    const c = await container(p, 'sleeper', ['sh', '-c', 'echo before; sleep 3600']);
    const vms = qemuOf(p.id);
    await ctrd.kill();
    await ctrd.restart();
    let state: criWire.PodSandboxState | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      state = await cri
        .podSandboxStatus({ podSandboxId: p.id, verbose: false })
        .then((s) => s.status?.state)
        .catch(() => undefined);
      if (state !== undefined) break;
      await sleep(500);
    }
    assert.equal(state, criWire.PodSandboxState.SANDBOX_READY, 'the pod is ready after the restart');
    assert.equal((await cri.containerStatus({ containerId: c, verbose: false })).status?.state, criWire.ContainerState.CONTAINER_RUNNING);
    const r = await execIn(c, 'echo after');
    assert.deepEqual([r.code, r.out.trim()], [0, 'after']);
    assert.deepEqual(qemuOf(p.id), vms, 'the same VM');
    await cri.stopPodSandbox({ podSandboxId: p.id });
    assert.deepEqual(qemuOf(p.id), [], 'stopped: its VM is gone');
    await cri.removePodSandbox({ podSandboxId: p.id });
    pods.splice(pods.indexOf(p.id), 1);
    const gone = Date.now() + 10_000;
    while (processesMentioning(p.id).length > 0 && Date.now() < gone) await sleep(100);
    assert.deepEqual(processesMentioning(p.id), [], 'removed: its shim is gone');
  });
});
