import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentWire, criWire, sandboxWire, taskWire } from '@mayu/protocol';
import { parseConfig, removeDirSafely, Sandbox } from '@mayu/runtime';
import { fakeGuestImage, FakeAgent, fakeHypervisors, type Behaviour, type FakeHypervisor } from '@mayu/runtime/testing';
import pino from 'pino';
import { EventPublisher } from '../../src/events/publisher.js';
import { writePodFiles } from '../../src/server/pod-files.js';
import { podCgroupsPathOf, podRequestOf, SANDBOX_NOTREADY, SANDBOX_READY, SandboxService } from '../../src/server/sandbox-service.js';
import { TaskService } from '../../src/server/task-service.js';

const log = pino({ level: 'silent' });
const encode = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T): Buffer => Buffer.from(type.encode(m).finish());

/** CreateSandbox as containerd's CRI sends it: the pod's config as a runtime.v1.PodSandboxConfig Any. */
function createRequest(config: Partial<criWire.PodSandboxConfig>, over: Partial<sandboxWire.CreateSandboxRequest> = {}): sandboxWire.CreateSandboxRequest {
  return sandboxWire.CreateSandboxRequest.fromPartial({
    sandboxId: 'pod',
    bundlePath: '/bundle',
    netnsPath: '/var/run/netns/cni-1',
    options: { typeUrl: 'runtime.v1.PodSandboxConfig', value: encode(criWire.PodSandboxConfig, criWire.PodSandboxConfig.fromPartial(config)) },
    ...over,
  });
}

const hostNetwork = (network: criWire.NamespaceMode, pid = criWire.NamespaceMode.CONTAINER): Partial<criWire.PodSandboxConfig> => ({
  linux: criWire.LinuxPodSandboxConfig.fromPartial({ securityContext: { privileged: false, namespaceOptions: criWire.NamespaceOption.fromPartial({ network, pid }) } }),
});

describe('the Sandbox API: what CreateSandbox makes of CRI', () => {
  it("takes the pod's hostname, network namespace, host cgroup and limits as a pause container's spec would carry them", () => {
    const r = podRequestOf(
      createRequest({
        hostname: 'web-0',
        annotations: { 'io.mayu.vcpus': '2' },
        dnsConfig: { servers: ['10.0.0.10'], searches: ['svc.local'], options: ['ndots:5'] },
        linux: criWire.LinuxPodSandboxConfig.fromPartial({
          cgroupParent: '/kubepods/burstable/pod-1',
          sysctls: { 'net.ipv4.ping_group_range': '0 1' },
          resources: criWire.LinuxContainerResources.fromPartial({ memoryLimitInBytes: 1n << 30n, cpuQuota: 150_000n, cpuPeriod: 100_000n }),
        }),
      }),
    );
    assert.deepEqual(r.spec, {
      hostname: 'web-0',
      annotations: { 'io.mayu.vcpus': '2', 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod', 'io.kubernetes.cri.sandbox-memory': String(1 << 30) },
      linux: {
        cgroupsPath: '/kubepods/burstable/pod-1/pod',
        namespaces: [{ type: 'network', path: '/var/run/netns/cni-1' }],
        resources: { memory: { limit: 1 << 30 }, cpu: { quota: 150_000, period: 100_000 } },
      },
    });
    assert.deepEqual([r.hostname, r.dns?.servers, r.sysctls], ['web-0', ['10.0.0.10'], { 'net.ipv4.ping_group_range': '0 1' }]);
    // Nothing but the sandbox id (ctr, or a client without a config): an unsized pod without a network.
    assert.deepEqual(podRequestOf(sandboxWire.CreateSandboxRequest.fromPartial({ sandboxId: 'pod' })).spec, { annotations: {}, linux: { namespaces: [] } });
  });

  it("names the pod's host cgroup as containerd names a pause container's: parent/id for cgroupfs, slice:cri-containerd:id for systemd", () => {
    assert.equal(podCgroupsPathOf('/kubepods/pod-1/', 'abc'), '/kubepods/pod-1/abc');
    assert.equal(podCgroupsPathOf('kubepods-burstable-pod1.slice', 'abc'), 'kubepods-burstable-pod1.slice:cri-containerd:abc');
    assert.equal(podCgroupsPathOf('', 'abc'), undefined);
  });

  it('refuses options that are not a PodSandboxConfig, naming the type', () => {
    assert.throws(() => podRequestOf(createRequest({}, { options: { typeUrl: 'containerd.runc.v1.Options', value: Buffer.alloc(0) } })), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /options: type "containerd.runc.v1.Options" is not runtime.v1.PodSandboxConfig/,
    });
    assert.throws(() => podRequestOf(createRequest({}, { options: { typeUrl: 'runtime.v1.PodSandboxConfig', value: Buffer.from([0x0a, 0xff]) } })), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /not a runtime.v1.PodSandboxConfig/,
    });
  });

  it('refuses the host\'s network, PID or IPC namespace naming the option (runtime.host_namespaces = "refuse"); with "vm", reports it and gives the pod none of the host\'s', () => {
    assert.throws(() => podRequestOf(createRequest(hostNetwork(criWire.NamespaceMode.NODE), { netnsPath: '' })), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /linux\.security_context\.namespace_options\.network = NODE asks for the host's network namespace/,
    });
    assert.throws(() => podRequestOf(createRequest(hostNetwork(criWire.NamespaceMode.POD, criWire.NamespaceMode.NODE))), { message: /namespace_options\.pid = NODE/ });
    const accepted: string[] = [];
    const r = podRequestOf(createRequest(hostNetwork(criWire.NamespaceMode.NODE), { netnsPath: '' }), 'vm', (field) => accepted.push(field));
    assert.deepEqual(accepted, ['linux.security_context.namespace_options.network']);
    assert.deepEqual(r.spec.linux.namespaces, [], 'no network namespace is wired');
  });

  it("writes the pod's resolv.conf, hosts and hostname for its containers (containerd writes none under the Sandbox API)", () => {
    const dir = mkdtempSync('/tmp/mayu-unit-pod-files-');
    try {
      const mounts = writePodFiles(join(dir, 'files'), { hostname: 'web-0', dns: { servers: ['10.0.0.10', '10.0.0.11'], searches: ['a.local', 'b.local'], options: ['ndots:5'] } });
      assert.deepEqual(
        mounts.map((m) => m.destination),
        ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname'],
      );
      assert.equal(readFileSync(join(dir, 'files/resolv.conf'), 'utf8'), 'search a.local b.local\nnameserver 10.0.0.10\nnameserver 10.0.0.11\noptions ndots:5\n');
      assert.match(readFileSync(join(dir, 'files/hosts'), 'utf8'), /^127\.0\.0\.1\tlocalhost\n/);
      assert.equal(readFileSync(join(dir, 'files/hostname'), 'utf8'), 'web-0\n');
      assert.deepEqual(mounts[0], { destination: '/etc/resolv.conf', type: 'bind', source: join(dir, 'files/resolv.conf'), options: ['rbind', 'rprivate', 'rw'] });
      // No DNS configuration: the host's, as containerd copies it.
      writePodFiles(join(dir, 'files'), { hostname: 'web-0', dns: undefined });
      assert.equal(readFileSync(join(dir, 'files/resolv.conf'), 'utf8'), readFileSync('/etc/resolv.conf', 'utf8'));
    } finally {
      removeDirSafely(dir);
    }
  });
});

/**
 * The Sandbox service beside the Task service (fake hypervisor, fake agent):
 * the pod's life as containerd 2.x drives it, and its containers arriving as
 * Task.Create.
 */
describe('SandboxService (fake hypervisor, fake agent)', () => {
  let dir: string;
  let agent: FakeAgent;
  let made: FakeHypervisor[];
  let tasks: TaskService;
  let sandbox: Record<string, (r: unknown) => Promise<unknown>>;
  let task: Record<string, (r: unknown) => Promise<unknown>>;
  let shutdowns: number;

  beforeEach(async () => {
    dir = mkdtempSync('/run/mayu-unit-sandbox-api-');
    agent = await FakeAgent.start(dir);
    const ended: Behaviour = async () => encode(agentWire.ReadStreamResponse, { data: Buffer.alloc(0) });
    agent.set('ReadStdout', ended);
    agent.set('ReadStderr', ended);
    agent.set('WaitProcess', () => new Promise(() => {}));
    const image = fakeGuestImage(join(dir, 'image'));
    mkdirSync(join(dir, 'sandbox'), { recursive: true });
    mkdirSync(join(dir, 'c1/rootfs'), { recursive: true });
    writeFileSync(
      join(dir, 'c1/config.json'),
      JSON.stringify({
        ociVersion: '1.2.1',
        process: { args: ['sh'], cwd: '/' },
        root: { path: 'rootfs' },
        mounts: [{ destination: '/etc/hosts', type: 'bind', source: join(dir, 'kubelet-hosts'), options: ['rbind', 'ro'] }],
        annotations: { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod' },
        linux: {
          sysctl: { 'net.core.somaxconn': '128' },
          namespaces: [{ type: 'pid' }, { type: 'ipc', path: '/proc/VMPID/ns/ipc' }, { type: 'uts', path: '/proc/VMPID/ns/uts' }, { type: 'mount' }, { type: 'network', path: '/proc/VMPID/ns/net' }],
        },
      }),
    );
    writeFileSync(join(dir, 'kubelet-hosts'), '127.0.0.1 localhost\n');
    const config = parseConfig(`[sandbox]\nguest_image_dir = "${image}"\n[runtime]\nstate_dir = "${dir}/state"\n[agent]\ncall_timeout = 2\ndial_timeout = 5\n`, 'test');
    const fakes = fakeHypervisors(agent.endpoint);
    made = fakes.made;
    shutdowns = 0;
    tasks = new TaskService({
      groupId: 'pod',
      bundle: join(dir, 'sandbox'),
      namespace: 'k8s.io',
      config,
      log,
      vmLog: log,
      events: new EventPublisher('', 'k8s.io', log),
      onShutdown: () => shutdowns++,
      createSandbox: (o) => Sandbox.create({ ...o, hypervisor: fakes.factory }),
    });
    sandbox = new SandboxService('pod', join(dir, 'sandbox'), tasks, log).implementation() as unknown as typeof sandbox;
    task = tasks.implementation() as unknown as typeof task;
  });
  afterEach(async () => {
    await tasks.close();
    await agent.stop();
    removeDirSafely(dir);
  });

  it("create → start (the VM's pid) → a container as Task.Create, in the pod's own namespaces with its files → Task.Shutdown keeps the pod → stop → wait → ShutdownSandbox", async () => {
    await assert.rejects(sandbox.startSandbox({ sandboxId: 'pod' }), { code: 'ERR_INVALID_STATE', message: /CreateSandbox first/ });
    await sandbox.createSandbox(
      createRequest(
        {
          hostname: 'web-0',
          dnsConfig: { servers: ['10.0.0.10'], searches: [], options: [] },
          linux: criWire.LinuxPodSandboxConfig.fromPartial({ sysctls: { 'net.ipv4.ping_group_range': '0 1', 'net.core.somaxconn': '1024' } }),
        },
        { netnsPath: '' },
      ),
    );
    await assert.rejects(sandbox.createSandbox(createRequest({})), { code: 'ERR_ALREADY_EXISTS' });
    const started = (await sandbox.startSandbox({ sandboxId: 'pod' })) as sandboxWire.StartSandboxResponse;
    assert.equal(made.length, 1, 'one VM');
    assert.ok(started.pid > 0 && started.pid === tasks.vmPid, "the VM's pid");
    assert.ok(started.createdAt && started.createdAt.seconds > 0);
    let status = (await sandbox.sandboxStatus({ sandboxId: 'pod', verbose: false })) as sandboxWire.SandboxStatusResponse;
    assert.deepEqual([status.sandboxId, status.state, status.pid], ['pod', SANDBOX_READY, started.pid]);
    assert.deepEqual(((await sandbox.platform({ sandboxId: 'pod' })) as sandboxWire.PlatformResponse).platform?.os, 'linux');
    await assert.rejects(sandbox.pingSandbox({ sandboxId: 'other' }), { code: 'ERR_NOT_FOUND', message: /sandbox other not found/ });

    // The container's spec names the pod's namespaces by the VM's pid, as CRI writes them from SandboxStatus.
    const spec = readFileSync(join(dir, 'c1/config.json'), 'utf8').replaceAll('VMPID', String(started.pid));
    writeFileSync(join(dir, 'c1/config.json'), spec);
    await task.create(taskWire.CreateTaskRequest.fromPartial({ id: 'c1', bundle: join(dir, 'c1') }));
    const created = agentWire.CreateContainerRequest.decode(agent.lastRequest.get('CreateContainer') ?? Buffer.alloc(0));
    assert.deepEqual(created.shareNamespaces, { containerId: '', types: ['ipc', 'uts'] }, "the pod's own namespaces, which the agent keeps (no sandbox container)");
    const guestSpec = JSON.parse(Buffer.from(created.ociSpecJson).toString()) as { mounts: { destination: string }[]; linux: { sysctl?: Record<string, string> } };
    assert.deepEqual(guestSpec.linux.sysctl, { 'net.ipv4.ping_group_range': '0 1', 'net.core.somaxconn': '128' }, "the pod's sysctls, the container's own winning");
    const destinations = guestSpec.mounts.map((m) => m.destination);
    assert.ok(destinations.includes('/etc/resolv.conf') && destinations.includes('/etc/hostname'), `the pod's files are bound in: ${destinations.join(', ')}`);
    assert.equal(destinations.filter((d) => d === '/etc/hosts').length, 1, "kubelet's /etc/hosts is kept, not doubled");
    assert.equal(readFileSync(join(dir, 'sandbox/pod-files/hostname'), 'utf8'), 'web-0\n');

    // A container whose limit no VM may have is refused, naming it.
    const big = JSON.parse(spec) as { linux: Record<string, unknown> };
    big.linux.resources = { memory: { limit: 9000 * 2 ** 20 } };
    mkdirSync(join(dir, 'c2/rootfs'), { recursive: true });
    writeFileSync(join(dir, 'c2/config.json'), JSON.stringify(big));
    await assert.rejects(task.create(taskWire.CreateTaskRequest.fromPartial({ id: 'c2', bundle: join(dir, 'c2') })), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^\/linux\/resources\/memory\/limit: is more memory than a VM may have \(sandbox.max_memory = 8192 MiB\)/,
    });

    // The container goes; its Task.Shutdown must not end a pod that still runs.
    await task.kill({ id: 'c1', execId: '', signal: 9, all: false });
    await task.delete({ id: 'c1', execId: '' });
    await task.shutdown({ id: 'c1', now: false });
    await new Promise((r) => setImmediate(r));
    assert.equal(shutdowns, 0, 'the pod outlives its containers');

    const waited = sandbox.waitSandbox({ sandboxId: 'pod' }) as Promise<sandboxWire.WaitSandboxResponse>;
    await sandbox.stopSandbox({ sandboxId: 'pod', timeoutSecs: 0 });
    assert.equal((await waited).exitStatus, 0);
    assert.ok(
      made[0]?.calls.some((c) => /stop|kill|shutdown/i.test(c)),
      `the VM is stopped: ${made[0]?.calls.join(', ')}`,
    );
    status = (await sandbox.sandboxStatus({ sandboxId: 'pod', verbose: false })) as sandboxWire.SandboxStatusResponse;
    assert.equal(status.state, SANDBOX_NOTREADY);
    assert.ok(status.exitedAt);
    await assert.rejects(sandbox.startSandbox({ sandboxId: 'pod' }), { code: 'ERR_INVALID_STATE', message: /has stopped/ });
    const metrics = (await sandbox.sandboxMetrics({ sandboxId: 'pod' })) as sandboxWire.SandboxMetricsResponse;
    assert.deepEqual([metrics.metrics?.id, metrics.metrics?.data], ['pod', undefined], 'no host cgroup: no data');
    await sandbox.shutdownSandbox({ sandboxId: 'pod' });
    for (let i = 0; i < 100 && shutdowns === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(shutdowns, 1, 'ShutdownSandbox ends the server');
  });

  it('a VM that dies ends the pod: WaitSandbox answers 255 and the status is NOTREADY', async () => {
    await sandbox.createSandbox(createRequest({}, { netnsPath: '' }));
    await sandbox.startSandbox({ sandboxId: 'pod' });
    const waited = sandbox.waitSandbox({ sandboxId: 'pod' }) as Promise<sandboxWire.WaitSandboxResponse>;
    made[0]?.die();
    assert.equal((await waited).exitStatus, 255);
    assert.equal(((await sandbox.sandboxStatus({ sandboxId: 'pod', verbose: false })) as sandboxWire.SandboxStatusResponse).state, SANDBOX_NOTREADY);
  });
});
