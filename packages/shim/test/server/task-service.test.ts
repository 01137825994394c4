import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentWire, taskTypesWire, taskWire } from '@mayu/protocol';
import { cgroupMemberships, mountsUnder, parseConfig, removeCgroupDirs, removeDirSafely, Sandbox } from '@mayu/runtime';
import { fakeGuestImage, FakeAgent, fakeHypervisors, type Behaviour, type FakeHypervisor } from '@mayu/runtime/testing';
import pino from 'pino';
import { EventPublisher, type EventType } from '../../src/events/publisher.js';
import { TaskService } from '../../src/server/task-service.js';

const log = pino({ level: 'silent' });

/** An event publisher that keeps what would go to containerd. */
class Captured extends EventPublisher {
  readonly topics: string[] = [];
  constructor() {
    super('', 'default', log);
  }
  override publish<T>(topic: string, type: EventType<T>, event: T): Promise<void> {
    this.topics.push(topic);
    return super.publish(topic, type, event);
  }
}

const encode = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T): Buffer => Buffer.from(type.encode(m).finish());

/**
 * containerd's Task API (the shim's TaskService) against a fake hypervisor
 * and a fake agent: the task and process state machine, the events and their
 * order, VM death, and failure paths — without a VM.
 */
describe('TaskService (fake hypervisor, fake agent)', () => {
  let dir: string;
  let agent: FakeAgent;
  let events: Captured;
  let made: FakeHypervisor[];
  let tasks: TaskService;
  let impl: Record<string, (r: unknown) => Promise<unknown>>;
  /** Resolves a WaitProcess the test holds, per container. */
  let exits: Map<string, (status: number) => void>;

  beforeEach(async () => {
    dir = mkdtempSync('/run/mayu-unit-tasks-');
    agent = await FakeAgent.start(dir);
    exits = new Map();
    agent.set('WaitProcess', (req) => {
      const id = agentWire.WaitProcessRequest.decode(req).containerId;
      return new Promise((resolve) => exits.set(id, (exitStatus) => resolve(encode(agentWire.WaitProcessResponse, { exitStatus, signal: 0, exitedAtMs: 1 }))));
    });
    // Output streams end at once (an empty read).
    const ended: Behaviour = async () => encode(agentWire.ReadStreamResponse, { data: Buffer.alloc(0) });
    agent.set('ReadStdout', ended);
    agent.set('ReadStderr', ended);
    const image = fakeGuestImage(join(dir, 'image'));
    mkdirSync(join(dir, 'bundle/rootfs'), { recursive: true });
    writeFileSync(
      join(dir, 'bundle/config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { args: ['sh'], cwd: '/' },
        root: { path: 'rootfs' },
        linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
      }),
    );
    const config = parseConfig(`[sandbox]\nguest_image_dir = "${image}"\n[runtime]\nstate_dir = "${dir}/state"\n[agent]\ncall_timeout = 2\ndial_timeout = 5\n`, 'test');
    const fakes = fakeHypervisors(agent.endpoint, { failStart: 1 });
    made = fakes.made;
    events = new Captured();
    tasks = new TaskService({
      groupId: 'pod',
      bundle: join(dir, 'bundle'),
      namespace: 'default',
      config,
      log,
      vmLog: log,
      events,
      onShutdown: () => {},
      createSandbox: (o) => Sandbox.create({ ...o, hypervisor: fakes.factory }),
    });
    impl = tasks.implementation() as unknown as typeof impl;
  });
  afterEach(async () => {
    await tasks.close();
    await agent.stop();
    removeDirSafely(dir);
  });

  const create = (id: string) => impl.create(taskWire.CreateTaskRequest.fromPartial({ id, bundle: join(dir, 'bundle') }));

  it('create → start → exit → delete: states, events in order, and a VM that fails to boot is retried', async () => {
    await assert.rejects(create('pod'), /the fake VM failed to start/);
    assert.deepEqual(events.topics, [], 'a failed create publishes nothing');
    await create('pod');
    let state = (await impl.state({ id: 'pod', execId: '' })) as taskWire.StateResponse;
    assert.equal(state.status, taskTypesWire.Status.CREATED);
    await assert.rejects(create('pod'), { code: 'ERR_ALREADY_EXISTS' });
    await impl.start({ id: 'pod', execId: '' });
    state = (await impl.state({ id: 'pod', execId: '' })) as taskWire.StateResponse;
    assert.equal(state.status, taskTypesWire.Status.RUNNING);
    await assert.rejects(impl.delete({ id: 'pod', execId: '' }), { code: 'ERR_INVALID_STATE', message: /is running: kill it first/ });
    await until(() => exits.has('pod'));
    exits.get('pod')?.(7);
    const waited = (await impl.wait({ id: 'pod', execId: '' })) as taskWire.WaitResponse;
    assert.equal(waited.exitStatus, 7);
    await impl.delete({ id: 'pod', execId: '' });
    assert.deepEqual(events.topics, ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    await assert.rejects(impl.state({ id: 'pod', execId: '' }), { code: 'ERR_NOT_FOUND' });
  });

  it('execs: added and started in the guest; a second with its id is ALREADY_EXISTS, an unknown one NOT_FOUND', async () => {
    await create('pod').catch(() => create('pod'));
    await impl.start({ id: 'pod', execId: '' });
    const spec = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['true'], cwd: '/' })) };
    await impl.exec(taskWire.ExecProcessRequest.fromPartial({ id: 'pod', execId: 'e1', spec }));
    await assert.rejects(impl.exec(taskWire.ExecProcessRequest.fromPartial({ id: 'pod', execId: 'e1', spec })), { code: 'ERR_ALREADY_EXISTS' });
    await impl.start({ id: 'pod', execId: 'e1' });
    assert.equal(agent.count('ExecProcess'), 1);
    await assert.rejects(impl.state({ id: 'pod', execId: 'nope' }), { code: 'ERR_NOT_FOUND', message: /exec nope of task pod not found/ });
    assert.deepEqual(events.topics.slice(-2), ['/tasks/exec-added', '/tasks/exec-started']);
  });

  it('when the VM dies, every started process exits (TaskExit, 255), and the rootfs mounts go at delete', async () => {
    await create('pod').catch(() => create('pod'));
    await impl.start({ id: 'pod', execId: '' });
    made.at(-1)?.die();
    const waited = (await impl.wait({ id: 'pod', execId: '' })) as taskWire.WaitResponse;
    assert.equal(waited.exitStatus, 255);
    assert.ok(events.topics.includes('/tasks/exit'));
    await impl.delete({ id: 'pod', execId: '' });
    assert.equal(agent.count('RemoveContainer'), 0, 'no agent call to a dead VM');
    assert.deepEqual(
      mountsUnder(join(dir, 'state')).filter((m) => m.includes('/shared/pod/')),
      [],
    );
  });

  it('refuses bad input naming the field, before a VM is booted for it', async () => {
    await assert.rejects(impl.create(taskWire.CreateTaskRequest.fromPartial({ id: 'pod', bundle: join(dir, 'bundle'), stdout: 'tcp://x' })), { code: 'ERR_INVALID_ARGUMENT', message: /stdout/ });
    writeFileSync(
      join(dir, 'bundle/config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { args: ['sh'], cwd: '/', selinuxLabel: 'x' },
        root: { path: 'rootfs' },
        linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
      }),
    );
    await assert.rejects(create('pod'), { code: 'ERR_INVALID_ARGUMENT', message: /^\/process\/selinuxLabel/ });
    writeFileSync(join(dir, 'bundle/config.json'), '{nope');
    await assert.rejects(create('pod'), { code: 'ERR_INVALID_ARGUMENT', message: /config.json/ });
    assert.equal(made.length, 0, 'no VM was made for any of them');
  });

  it("grows the pod's VM to hold its containers' limits (memory by the hypervisor, vCPUs by the agent) and at an Update; it never shrinks", async () => {
    const member = (id: string, resources: unknown): Promise<unknown> => {
      const bundle = join(dir, id);
      mkdirSync(join(bundle, 'rootfs'), { recursive: true });
      const annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod' };
      writeFileSync(
        join(bundle, 'config.json'),
        JSON.stringify({
          ociVersion: '1.0.2',
          annotations,
          process: { args: ['sh'], cwd: '/' },
          root: { path: 'rootfs' },
          linux: { resources, namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })) },
        }),
      );
      return impl.create(taskWire.CreateTaskRequest.fromPartial({ id, bundle }));
    };
    const resized = (): string[] => made.flatMap((h) => h.calls.filter((c) => c.startsWith('resizeMemory')));
    const lastResize = (): agentWire.ResizeGuestRequest => agentWire.ResizeGuestRequest.decode(agent.lastRequest.get('ResizeGuest') ?? Buffer.alloc(0));
    // A CRI pod's sandbox without the pod's limits (containerd 1.6): its VM may have to grow.
    const sandboxSpec = JSON.parse(readFileSync(join(dir, 'bundle/config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'bundle/config.json'), JSON.stringify({ ...sandboxSpec, annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod' } }));
    await create('pod').catch(() => create('pod'));
    assert.equal(made.at(-1)?.spec?.maxMemoryMib, 8192, 'the VM has room to grow to max_memory');
    assert.equal(made.at(-1)?.spec?.maxVcpus, 8);
    await member('big', { memory: { limit: 1 << 30 }, cpu: { quota: 200000, period: 100000 } });
    assert.deepEqual(resized(), ['resizeMemory:1536'], 'the default 512 MiB plus the 1 GiB limit');
    assert.deepEqual({ vcpus: lastResize().vcpus, added: lastResize().addedMemoryBytes }, { vcpus: 3, added: 1 << 30 });
    await member('small', { memory: { limit: 600 * 1048576 } });
    assert.deepEqual(resized().at(-1), 'resizeMemory:2136', 'the sum of both limits');
    await member('none', {});
    assert.equal(resized().length, 2, 'a container without limits grows nothing');
    const update = (id: string, resources: unknown) => impl.update({ id, resources: { typeUrl: 'x', value: Buffer.from(JSON.stringify(resources)) } });
    await update('big', { memory: { limit: 2 * 1024 ** 3 }, cpu: { quota: 400000, period: 100000 } });
    assert.equal(resized().at(-1), 'resizeMemory:3160', 'an Update grows the VM before the cgroup changes');
    assert.equal(lastResize().vcpus, 5);
    assert.ok(agent.count('UpdateContainer') === 1);
    await update('big', { memory: { limit: 256 << 20 } });
    assert.equal(resized().length, 3, 'a smaller limit leaves the VM as it is');
    await assert.rejects(update('big', { memory: { limit: 9000 * 1048576 } }), { code: 'ERR_INVALID_ARGUMENT', message: /max_memory/ });
    assert.equal(resized().length, 3);
  });

  it("joins the pod's host cgroup (real cgroupfs) only around a VM: not for a sandbox that cannot be made or a VM that fails to start; a limited pod's is bounded at its VM's memory plus the VMM's; left, and what it made removed, when the VM is gone", async function () {
    if (process.getuid?.() !== 0) this.skip();
    const top = `mayu-unit-shim-${process.pid}`;
    const cgroupsPath = `/${top}/pod/sandbox`;
    const own = readFileSync('/proc/self/cgroup', 'utf8');
    const where = cgroupMemberships();
    const madeDirs = () => where.filter((m) => existsSync(join(m.mount, top))).map((m) => join(m.mount, top));
    const spec = (annotations: Record<string, string>) =>
      writeFileSync(
        join(dir, 'bundle/config.json'),
        JSON.stringify({
          ociVersion: '1.0.2',
          process: { args: ['sh'], cwd: '/' },
          root: { path: 'rootfs' },
          annotations,
          linux: { cgroupsPath, namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
        }),
      );
    try {
      spec({ 'io.mayu.vcpus': 'many' });
      await assert.rejects(create('pod'), { code: 'ERR_INVALID_ARGUMENT', message: /io\.mayu\.vcpus/ });
      assert.deepEqual(madeDirs(), [], 'a sandbox that cannot be made joins nothing');
      // A pod limited to 1 GiB (containerd 1.7+ writes it on the sandbox): a VM of 1536 MiB.
      spec({ 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod', 'io.kubernetes.cri.sandbox-memory': String(2 ** 30) });
      await assert.rejects(create('pod'), /the fake VM failed to start/);
      assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), own, 'a VM that failed to start: the server is back where it was');
      assert.deepEqual(madeDirs(), [], '… and what it made is gone');
      await create('pod');
      for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) assert.ok(line.endsWith(`:${cgroupsPath}`), `while the VM runs: ${line}`);
      const bounds = where.flatMap((m) => ['memory.max', 'memory.limit_in_bytes'].map((f) => join(m.mount, cgroupsPath, f)).filter((f) => existsSync(f)));
      assert.ok(bounds.length > 0, 'a hierarchy with a memory controller');
      // 1536 MiB of guest memory, 192 MiB of VMM, and the TCG buffer (the fake runs under "tcg"; tcg_tb_size 128).
      for (const f of bounds) assert.equal(readFileSync(f, 'utf8').trim(), String((1536 + 192 + 128) * 1048576), f);
      await tasks.close();
      assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), own, 'the VM gone: back where it was');
      assert.deepEqual(madeDirs(), [], '… and the pod cgroups it made are removed');
    } finally {
      // Should an assertion fail midway: this process back where it was, the test's cgroups gone.
      for (const m of where) writeFileSync(join(m.dir, 'cgroup.procs'), String(process.pid));
      removeCgroupDirs(
        where.flatMap((m) => [cgroupsPath, `/${top}/pod`, `/${top}`].map((d) => join(m.mount, d))),
        () => {},
      );
    }
  });
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}
