import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { CRIO_HANDLERS, crioDir, PrivateCrio } from '../helpers/crio.js';
import { HOST_PODS, namespaceState } from '../helpers/namespace-state.js';

type NamespaceOption = Partial<criWire.NamespaceOption>;

/** A command that ends at once on SIGTERM (cri-o stops a container with TERM, then waits 10 s). */
const idle = ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done"];
/** busybox httpd on port 8080 saying `text`, ending on TERM. */
const serve = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait`];
/** Fetches a page, bounded (at most 20 tries of 10 s), through busybox nc; prints the body's last line. */
const fetch = (ip: string): string => `for i in $(seq 20); do out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 ${ip} 8080 | tail -n 1); [ -n "$out" ] && break; sleep 0.5; done; echo "$out"`;

/**
 * cri-o 1.26 (the workplace's build, a private daemon in a network
 * namespace of its own: the "node's" namespace as cri-o sees it) with both
 * of mayu's runtime types, real VMs. cri-o hands a hostNetwork or hostIPC
 * pod a pinned path to the node's own namespace: mayu must see it for what
 * it is. And cri-o drops a pod's sandbox container (drop_infra_ctr, its
 * default) for a pod that shares no PID namespace: the pod's first
 * container makes its VM. Traffic only between this cri-o's pods, on its
 * bridge (no gateway, no masquerade).
 */
describe("cri-o: a pod never takes the node's namespaces; pods without a sandbox container (real cri-o 1.26, real VMs)", function () {
  let crio: PrivateCrio;
  let failed: string | undefined;
  const pods: string[] = [];

  before(async function () {
    // Debian packages no cri-o: the workplace's build is beside the repository (CI has it; a plain clone may not).
    const found = crioDir();
    if ('missing' in found && process.env.CI !== 'true') {
      console.log(`      cri-o is not available, the cri-o suite is skipped: ${found.missing}`);
      this.skip();
    }
    crio = await PrivateCrio.start();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
    for (const id of pods.splice(0)) await crio.removePod(id).catch(() => {});
    await crio.assertPodsGone();
  });
  after(async () => {
    await crio?.stop(failed);
  });

  async function pod(name: string, handler: string, options: NamespaceOption = {}): Promise<{ id: string; config: criWire.PodSandboxConfig }> {
    const config = crio.podConfig(name, options);
    const { podSandboxId } = await crio.cri.runPodSandbox({ config, runtimeHandler: handler });
    pods.push(podSandboxId);
    return { id: podSandboxId, config };
  }
  async function exec(containerId: string, script: string): Promise<string> {
    const r = await crio.cri.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 60n });
    assert.equal(r.exitCode, 0, `${script}: ${Buffer.from(r.stderr).toString()}${Buffer.from(r.stdout).toString()}`);
    return Buffer.from(r.stdout).toString();
  }
  /** Removes the test's pods as kubelet does, then nothing of them may be left. */
  async function removePods(): Promise<void> {
    for (const id of pods.splice(0)) await crio.removePod(id);
    await crio.assertPodsGone();
  }

  /** Two pods of mayu-runtime (no sandbox containers): a server and a client on cri-o's bridge; `check` fetches the page. */
  async function neighbours(): Promise<() => Promise<void>> {
    const web = await pod('web', CRIO_HANDLERS.oci);
    await crio.container(web, 'server', serve('from-the-neighbour'));
    const ip = (await crio.cri.podSandboxStatus({ podSandboxId: web.id, verbose: false })).status?.network?.ip ?? '';
    assert.match(ip, /^10\.233\.\d+\.\d+$/);
    const client = await crio.container(await pod('client', CRIO_HANDLERS.oci), 'client', idle);
    return async () => assert.equal((await exec(client, fetch(ip))).trim(), 'from-the-neighbour', "the other pods' network works");
  }

  it("refuses a hostNetwork, hostIPC or hostPID pod under both runtime types, naming the field; the node's namespace and the host's stay byte-for-byte the same, and the other pods' network works throughout", async () => {
    const othersWork = await neighbours();
    await othersWork();
    const vms = crio.vms().length;
    const nodeBefore = namespaceState(crio.netnsPath);
    const hostBefore = namespaceState('/proc/self/ns/net');
    for (const handler of [CRIO_HANDLERS.oci, CRIO_HANDLERS.vm]) {
      for (const [field, options] of HOST_PODS) {
        const what = `${field} under ${handler}`;
        const config = crio.podConfig(`host-${field.toLowerCase()}`, options);
        let podId: string | undefined;
        // The shim refuses at RunPodSandbox (cri-o keeps a VM runtime's sandbox container); mayu-runtime at the sandbox
        // container, or at the first container where cri-o dropped it.
        const err = await (async () => {
          podId = (await crio.cri.runPodSandbox({ config, runtimeHandler: handler })).podSandboxId;
          await crio.container({ id: podId, config }, 'c', idle);
        })().then(
          () => null,
          (e: Error) => e,
        );
        assert.ok(err, `${what}: refused`);
        assert.match(err.message, new RegExp(`the container would share the host's \\(Kubernetes ${field}\\).*runtime\\.host_namespaces = \\\\?"vm\\\\?"`), `${what}: ${err.message}`);
        assert.equal(crio.vms().length, vms, `${what}: no VM was booted for it`);
        if (podId) await crio.removePod(podId);
        assert.equal(namespaceState(crio.netnsPath), nodeBefore, `${what}: the node's namespace is unchanged`);
        assert.equal(namespaceState('/proc/self/ns/net'), hostBefore, `${what}: the host's namespace is unchanged`);
        await othersWork();
      }
    }
    await removePods();
  });

  it("with host_namespaces = \"vm\" (mayu-runtime by --config, the shim by cri-o's runtime_config_path), such pods run with the VM's namespaces; the node's namespace is untouched", async () => {
    const nodeBefore = namespaceState(crio.netnsPath);
    for (const handler of [CRIO_HANDLERS.ociHostNs, CRIO_HANDLERS.vmHostNs]) {
      for (const [field, options] of HOST_PODS) {
        const what = `${field} under ${handler}`;
        const p = await pod(`vmns-${field.toLowerCase()}`, handler, options);
        const c = await crio.container(p, 'c', idle);
        const seen = await exec(c, 'cat /proc/net/dev; ps -o comm; cat /proc/sys/kernel/random/boot_id');
        assert.doesNotMatch(seen, new RegExp(`${crio.bridge}|veth`), `${what}: none of the node's interfaces`);
        if (field === 'hostPID') assert.match(seen, /mayu-agent/, `${what}: the VM's processes`);
        assert.doesNotMatch(seen, /\bcrio\b|conmon/, `${what}: none of the node's processes`);
        await crio.removePod(p.id);
        pods.splice(pods.indexOf(p.id), 1);
        assert.equal(namespaceState(crio.netnsPath), nodeBefore, `${what}: the node's namespace is unchanged`);
      }
    }
    await removePods();
  });

  for (const handler of [CRIO_HANDLERS.oci, CRIO_HANDLERS.vm])
    it(`a pod under ${handler} (${handler === CRIO_HANDLERS.vm ? 'the shim' : 'mayu-runtime'}): two containers in one VM, exec, their CRI logs, its IP reached from another pod, port-forward through cri-o (runc-style runtimes only); stop and remove leave nothing`, async () => {
      const p = await pod(`both-${handler}`, handler);
      const ip = (await crio.cri.podSandboxStatus({ podSandboxId: p.id, verbose: false })).status?.network?.ip ?? '';
      assert.match(ip, /^10\.233\.\d+\.\d+$/);
      const web = await crio.container(p, 'web', serve(`from-${handler}`));
      const talker = await crio.container(p, 'talker', ['sh', '-c', "trap 'exit 0' TERM; echo hello from the talker; while :; do sleep 1; done"]);
      const boot = 'cat /proc/sys/kernel/random/boot_id';
      assert.equal(await exec(web, boot), await exec(talker, boot), 'one VM for the pod');
      const client = await crio.container(await pod(`client-${handler}`, CRIO_HANDLERS.oci), 'client', idle);
      assert.equal((await exec(client, fetch(ip))).trim(), `from-${handler}`, "another pod reaches the pod's IP");
      // cri-o 1.26 forwards no port of a VM runtime's pod (its runtime_vm PortForwardContainer does nothing, as for Kata): runc-style only.
      if (handler === CRIO_HANDLERS.oci) {
        let forwarded = '';
        for (let i = 0; i < 10 && !forwarded.includes(`from-${handler}`); i++) forwarded = await crio.portForwardGet(p.id, 8080);
        assert.match(forwarded, new RegExp(`HTTP/1\\.[01] 200 OK[\\s\\S]*from-${handler}`), 'port-forward through cri-o reaches the server in the VM');
      }
      const log = (): string => readFileSync(join(p.config.logDirectory, 'talker.log'), 'utf8');
      for (let i = 0; i < 50 && !log().includes('hello'); i++) await sleep(100);
      assert.match(log(), /^\S+ stdout F hello from the talker$/m, "the container's output in its CRI log");
      await removePods();
    });

  for (const handler of [CRIO_HANDLERS.oci, CRIO_HANDLERS.vm])
    it(`a pod's VM grows for its containers' limits and a resize under ${handler} (${handler === CRIO_HANDLERS.vm ? 'the shim' : 'mayu-runtime'}; cri-o writes no pod limits): a 1 GiB / 2-CPU container holds 700 MiB and sees 3 CPUs; resized to 1.5 GiB it holds 1.2 GiB`, async () => {
      const p = await pod(`grow-${handler}`, handler);
      const big = await crio.container(p, 'big', idle, { memoryLimitInBytes: 1n << 30n, cpuQuota: 200_000n, cpuPeriod: 100_000n });
      assert.match(await exec(big, 'dd if=/dev/zero of=/dev/null bs=700M count=1 2>&1'), /1\+0 records out/, 'the container held 700 MiB (the default VM has 512 MiB)');
      assert.ok(Number(await exec(big, 'nproc')) >= 3, "the default vCPU and the container's 2");
      await crio.cri.updateContainerResources({
        containerId: big,
        linux: criWire.LinuxContainerResources.fromPartial({ memoryLimitInBytes: 1536n << 20n, cpuQuota: 200_000n, cpuPeriod: 100_000n }),
        annotations: {},
      });
      assert.match(await exec(big, 'dd if=/dev/zero of=/dev/null bs=1200M count=1 2>&1'), /1\+0 records out/, 'resized to 1.5 GiB, 1.2 GiB fits: the VM grew');
      assert.equal((await exec(big, 'cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max"')).trim(), String(1536 * 2 ** 20), "the container's cgroup has the new limit");
      await removePods();
    });

  it("drop_infra_ctr: a pod's first container makes the pod's VM and the next joins it (one VM, the pod's IP, IPC and UTS shared, each its own PID namespace); the VM goes with the pod's last container", async () => {
    const vmsBefore = crio.vms().length;
    const p = await pod('no-infra', CRIO_HANDLERS.oci);
    const ip = (await crio.cri.podSandboxStatus({ podSandboxId: p.id, verbose: false })).status?.network?.ip ?? '';
    const a = await crio.container(p, 'a', idle);
    const b = await crio.container(p, 'b', ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait"]);
    assert.equal(crio.vms().length, vmsBefore + 1, 'one VM for the pod');
    const look = 'cat /proc/sys/kernel/random/boot_id; hostname; readlink /proc/self/ns/ipc /proc/self/ns/uts; ip -4 -o addr show dev eth0; ps -o args';
    const [seenA, seenB] = [await exec(a, look), await exec(b, look)];
    const head = (s: string): string => s.split('\n').slice(0, 4).join('\n');
    assert.equal(head(seenA), head(seenB), 'the same VM, hostname, IPC and UTS namespaces');
    assert.match(seenA, /^[0-9a-f-]{36}\nno-infra\n/, "the pod's hostname");
    assert.match(seenA, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`), "the pod's IP");
    assert.match(seenB, /sleep 3600/);
    assert.doesNotMatch(seenA, /sleep 3600/, "each its own PID namespace: a does not see b's processes");
    await crio.cri.stopContainer({ containerId: a, timeout: 10n });
    await crio.cri.removeContainer({ containerId: a });
    assert.equal(crio.vms().length, vmsBefore + 1, 'the VM stays while the pod has a container');
    assert.match(await exec(b, 'hostname'), /^no-infra$/m);
    await removePods();
    assert.equal(crio.vms().length, vmsBefore);
  });

  it("shareProcessNamespace: cri-o keeps the pod's sandbox container (even with drop_infra_ctr), and the pod's containers share its PID namespace in the VM", async () => {
    const p = await pod('shared-pid', CRIO_HANDLERS.oci, { pid: criWire.NamespaceMode.POD });
    const a = await crio.container(p, 'a', idle);
    await crio.container(p, 'b', ['sh', '-c', "trap 'exit 0' TERM; sleep 3601 & wait"]);
    assert.match(await exec(a, 'ps -o args'), /sleep 3601/, "a sees b's processes");
    await removePods();
  });
});
