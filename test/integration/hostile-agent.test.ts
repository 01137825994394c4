import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { agentWire, eventsServiceWire, taskWire } from '@mayu/protocol';
import { mountsUnder, removeDirSafely } from '@mayu/runtime';
import { Code, TtrpcClient, TtrpcServer } from '@mayu/ttrpc';
import { AgentFault, fakeGuestImage, FakeAgent, stall } from '@mayu/runtime/testing';

/** The most the shim's resident memory may reach while a hostile guest does its worst (measured: see docs/security.md). */
const SHIM_MEMORY_BOUND_MIB = 256;

const encode = <T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T): Buffer => Buffer.from(type.encode(m).finish());

/** The peak resident set of a process (VmHWM), in MiB. */
function peakRssMib(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmHWM:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
}

/**
 * A hostile guest agent against the real shim Task service (in its own
 * process, as containerd runs it), with a fake hypervisor: floods, lies,
 * wrong types, other pods' ids, spoofed errors, stalls and disconnects. The
 * shim must keep serving, report clear errors, publish nothing for what is
 * not its pod's, and stay within a stated memory bound.
 */
describe('a hostile agent cannot hurt the shim', function () {
  let dir: string;
  let agent: FakeAgent;
  let harness: ChildProcess;
  let client: TtrpcClient;
  let task: ReturnType<TtrpcClient['service']> & Record<string, (req: unknown, o?: unknown) => Promise<unknown>>;
  const published: { topic: string; typeUrl: string }[] = [];
  let eventsServer: TtrpcServer;
  let stateRoot: string;

  before(async () => {
    dir = mkdtempSync('/run/mayu-test-hostile-');
    stateRoot = join(dir, 'state');
    agent = await FakeAgent.start(dir);
    eventsServer = new TtrpcServer();
    eventsServer.addService(eventsServiceWire.EventsDefinition, {
      forward: async (r: eventsServiceWire.ForwardRequest) => {
        published.push({ topic: r.envelope?.topic ?? '', typeUrl: r.envelope?.event?.typeUrl ?? '' });
        return {};
      },
    });
    await eventsServer.listen(join(dir, 'events.sock'));
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'rootfs/bin'), { recursive: true });
    writeFileSync(
      join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { args: ['sh'], cwd: '/' },
        root: { path: 'rootfs' },
        linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
      }),
    );
    writeFileSync(join(dir, 'config.toml'), `[runtime]\nstate_dir = "${stateRoot}"\nguest_image_dir = "${fakeGuestImage(join(dir, 'image'))}"\n[agent]\ncall_timeout = 1\ndial_timeout = 5\n`);
    harness = fork(new URL('../helpers/shim-harness.js', import.meta.url), [], {
      env: {
        ...process.env,
        HARNESS_SOCKET: join(dir, 'shim.sock'),
        HARNESS_AGENT: agent.endpoint,
        HARNESS_CONFIG: join(dir, 'config.toml'),
        HARNESS_BUNDLE: bundle,
        HARNESS_EVENTS: join(dir, 'events.sock'),
        HARNESS_FAIL_CREATE: '1',
        HARNESS_FAIL_START: '1',
        HARNESS_LOG_FLOOD: String(64 << 20),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      harness.once('message', () => resolve());
      harness.once('exit', (code) => reject(new Error(`the shim harness exited (${code})`)));
    });
    client = await TtrpcClient.connect(join(dir, 'shim.sock'));
    task = client.service(taskWire.TaskDefinition) as typeof task;
  });

  after(async () => {
    client?.close();
    harness?.kill('SIGTERM');
    await new Promise((r) => harness?.once('exit', r));
    await agent?.stop();
    eventsServer?.close();
    assert.deepEqual(mountsUnder(dir), [], 'the shim left mounts behind');
    removeDirSafely(dir);
  });

  const create = (id = 'hostile-pod') =>
    task.create(taskWire.CreateTaskRequest.fromPartial({ id, bundle: join(dir, 'bundle'), stdin: '', stdout: '', stderr: '', terminal: false }), { timeoutMs: 30_000 });
  const stillServes = async (): Promise<void> => {
    const s = (await task.connect({ id: 'hostile-pod' })) as { shimPid: number };
    assert.equal(s.shimPid, harness.pid);
  };

  it('a sandbox that cannot be made, or a VM that fails to start, leaves the shim able to try again', async () => {
    await assert.rejects(create(), /the fake hypervisor cannot be set up/);
    await assert.rejects(create(), /the fake VM failed to start/);
    assert.deepEqual(mountsUnder(stateRoot), [], 'a failed boot leaves no mount');
    await create();
    await task.start({ id: 'hostile-pod', execId: '' });
  });

  it("OOM reports for other pods' ids, huge and invalid ids, answered instantly: none reach containerd, and the shim does not spin", async () => {
    const before = agent.count('GetOOMEvent');
    const ids = ['other-pods-container', 'x'.repeat(1 << 20), Buffer.from([0xff, 0xfe]).toString('latin1'), ''];
    let i = 0;
    agent.set('GetOOMEvent', async () => encode(agentWire.OOMEvent, { containerId: ids[i++ % ids.length] }));
    await sleep(3000);
    const polls = agent.count('GetOOMEvent') - before;
    assert.ok(polls >= 3 && polls < 40, `the shim backs off from a guest answering nonsense (${polls} polls in 3 s)`);
    assert.deepEqual(
      published.filter((e) => e.topic === '/tasks/oom'),
      [],
    );
    // Its own container's OOM is reported, but a guest repeating it cannot flood containerd.
    agent.set('GetOOMEvent', async () => encode(agentWire.OOMEvent, { containerId: 'hostile-pod' }));
    const oomEvents = () => published.filter((e) => e.topic === '/tasks/oom').length;
    for (let waited = 0; oomEvents() === 0 && waited < 10_000; waited += 100) await sleep(100);
    assert.equal(oomEvents(), 1, `its own container's OOM kill is reported (once the back-off from the nonsense has passed)`);
    await sleep(3000);
    assert.ok(oomEvents() <= 5, `a guest repeating it cannot flood containerd: coalesced to ${oomEvents()} events in 3 s`);
    agent.set('GetOOMEvent', stall);
  });

  it('lies about processes and statistics are refused or bounded, never believed as they are', async () => {
    agent.behaviours.ListProcesses = async () =>
      encode(agentWire.ListProcessesResponse, {
        processes: [
          { pid: -5, execId: 'x'.repeat(100_000), command: 'evil' },
          { pid: 2 ** 31 - 1, execId: '', command: 'beyond pid_max' },
          { pid: 0, execId: '', command: '' },
          { pid: 42, execId: '', command: 'sh' },
        ],
      });
    const pids = (await task.pids({ id: 'hostile-pod' })) as taskWire.PidsResponse;
    assert.deepEqual(
      pids.processes.map((p) => p.pid),
      [42],
    );
    // Undecodable: a length that runs past the end of the message.
    agent.behaviours.StatsContainer = async () => Buffer.from([0x0a, 0xff, 0xff, 0x03, 0x01]);
    await assert.rejects(task.stats({ id: 'hostile-pod' }), (err: { code?: number; message: string }) => {
      assert.match(err.message, /agent StatsContainer/);
      return true;
    });
    // Decodable, but wire types that do not match the fields, and absurd counters.
    agent.behaviours.StatsContainer = async () =>
      Buffer.concat([
        Buffer.from([0x0d, 1, 2, 3, 4]),
        encode(agentWire.StatsContainerResponse, agentWire.StatsContainerResponse.fromPartial({ memory: { usageBytes: Number.MAX_SAFE_INTEGER }, timestampMs: -1 })),
      ]);
    const stats = (await task.stats({ id: 'hostile-pod' })) as taskWire.StatsResponse;
    assert.ok(stats.stats?.value && stats.stats.value.length < 4096, 'a bounded metrics reply');
    await stillServes();
  });

  it('spoofed error metadata, huge messages and control characters are not passed on as they are', async () => {
    agent.behaviours.PauseContainer = async () => {
      throw new AgentFault(status.FAILED_PRECONDITION, `\x1b]0;pwned\x07${'y'.repeat(6000)}`, { 'mayu-error-code': 'ERR_HYPERVISOR_START' });
    };
    await assert.rejects(task.pause({ id: 'hostile-pod' }), (err: { code: number; message: string }) => {
      assert.equal(err.code, Code.FAILED_PRECONDITION, 'the status follows the gRPC code, not the claimed host-side code');
      assert.ok(err.message.length < 2048, `bounded (${err.message.length} characters)`);
      assert.ok(!err.message.includes('\x1b') && !err.message.includes('\x07'));
      return true;
    });
    await stillServes();
  });

  it('a guest that stalls makes calls fail after call_timeout, while the shim keeps answering', async () => {
    agent.behaviours.UpdateContainer = stall;
    const started = Date.now();
    const update = task.update(taskWire.UpdateTaskRequest.fromPartial({ id: 'hostile-pod', resources: { typeUrl: 'x', value: Buffer.from('{}') } }));
    await stillServes();
    await assert.rejects(update, (err: { code: number; message: string }) => {
      assert.equal(err.code, Code.DEADLINE_EXCEEDED, String(err));
      assert.match(err.message, /UpdateContainer: no answer within 1000 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });

  it('a guest that disconnects mid-call fails that call; the next ones reach it again', async () => {
    agent.behaviours.TtyWinResize = async () => {
      agent.disconnectAll();
      return new Promise(() => {});
    };
    await assert.rejects(task.resizePty({ id: 'hostile-pod', execId: '', width: 80, height: 24 }));
    agent.behaviours.TtyWinResize = async () => Buffer.alloc(0);
    await sleep(500);
    await task.resizePty({ id: 'hostile-pod', execId: '', width: 80, height: 24 });
  });

  it('an exit status out of range is reported as 255, and the output flood of a guest is bounded', async () => {
    agent.behaviours.ReadStdout = async (req) => {
      const len = agentWire.ReadStreamRequest.decode(req).len;
      return encode(agentWire.ReadStreamResponse, { data: randomBytes(len * 2) });
    };
    agent.behaviours.WaitProcess = async () => encode(agentWire.WaitProcessResponse, { exitStatus: -5, signal: 9999, exitedAtMs: Number.NaN });
    await task.create(taskWire.CreateTaskRequest.fromPartial({ id: 'second', bundle: join(dir, 'bundle'), stdout: `file://${join(dir, 'second.out')}` }));
    await task.start({ id: 'second', execId: '' });
    const exit = (await task.wait({ id: 'second', execId: '' })) as taskWire.WaitResponse;
    assert.equal(exit.exitStatus, 255);
    assert.equal(readFileSync(join(dir, 'second.out')).length, 0, 'a read answered with more than was asked for is refused, not written');
    await task.delete({ id: 'second', execId: '' });
    await stillServes();
  });

  it(`the shim stayed under ${SHIM_MEMORY_BOUND_MIB} MiB through all of it (a 64 MiB guest log flood included)`, async function () {
    const peak = peakRssMib(harness.pid as number);
    if (this.test) this.test.title += ` — peak RSS ${peak.toFixed(0)} MiB`;
    assert.ok(peak > 0 && peak < SHIM_MEMORY_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  });
});
