import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { collect, imageSpec as spec, runIn } from '../helpers/in-guest.js';

/**
 * Without a PID namespace of its own, the process is not an init: signals
 * kill it as they would anywhere. Such a spec asks for the host's PID
 * namespace (Kubernetes hostPID): the sandbox must be told to accept the
 * VM's instead (VM_NAMESPACES).
 */
function noPidNamespace(s: Record<string, unknown>): void {
  const linux = s.linux as { namespaces: { type: string }[] };
  linux.namespaces = linux.namespaces.filter((n) => n.type !== 'pid');
}

/** The documented fallback for a spec without a pid (network, ipc) namespace: the VM's. */
const VM_NAMESPACES = '[runtime]\nhost_namespaces = "vm"';

describe('containers inside the VM (agent API, real VMs)', () => {
  const vms = useGuestFactory();

  it('keeps stdout and stderr apart and reports exact exit codes: 0, 7, 143 (SIGTERM), 137 (SIGKILL)', async () => {
    const { sandbox } = await vms().boot({ toml: VM_NAMESPACES });
    const r = await runIn(sandbox, 'c0', await spec(['sh', '-c', 'echo out1; echo err1 >&2; echo out2; exit 0']));
    assert.deepEqual(r, { status: 0, stdout: 'out1\nout2\n', stderr: 'err1\n' });
    assert.equal((await runIn(sandbox, 'c7', await spec(['sh', '-c', 'exit 7']))).status, 7);
    assert.equal((await runIn(sandbox, 'c143', await spec(['sh', '-c', 'kill -TERM $$; sleep 5'], {}, noPidNamespace))).status, 143);
    assert.equal((await runIn(sandbox, 'c137', await spec(['sh', '-c', 'kill -KILL $$; sleep 5'], {}, noPidNamespace))).status, 137);
    const exit = await sandbox.agent.waitProcess({ containerId: 'c143', execId: '' });
    assert.equal(exit.signal, 15);
  });

  it('passes stdin through and delivers EOF on CloseStdin', async () => {
    const { sandbox } = await vms().boot();
    await sandbox.createContainer({ id: 'cat', spec: await spec(['sh', '-c', 'cat; echo "<eof>"']), rootfs: 'image', stdio: { terminal: false, stdin: true } });
    const ref = { containerId: 'cat', execId: '' };
    const out = collect(sandbox.agent, ref, 'stdout');
    await sandbox.agent.startContainer('cat');
    await sandbox.agent.writeStdin(ref, Buffer.from('line one\n'));
    await sandbox.agent.writeStdin(ref, Buffer.from('line two\n'));
    await sandbox.agent.closeStdin(ref);
    assert.equal(await out, 'line one\nline two\n<eof>\n');
    assert.equal((await sandbox.agent.waitProcess(ref)).exitStatus, 0);
  });

  it('signals a running container and reaps orphaned grandchildren (no zombie in the guest)', async () => {
    const { sandbox } = await vms().boot({ toml: VM_NAMESPACES });
    // The container's shell leaves a grandchild behind in the guest's PID namespace, then is killed.
    await sandbox.createContainer({ id: 'orph', spec: await spec(['sh', '-c', '(sleep 1 &); exec sleep 600'], {}, noPidNamespace), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('orph');
    await sleep(300);
    const listed = await sandbox.agent.listProcesses('orph');
    assert.ok(
      listed.some((p) => p.command === 'sleep 600' && p.execId === ''),
      JSON.stringify(listed),
    );
    await sandbox.agent.signalProcess({ containerId: 'orph', execId: '' }, 15);
    assert.equal((await sandbox.agent.waitProcess({ containerId: 'orph', execId: '' })).exitStatus, 143);
    await sleep(2000);
    const metrics = await sandbox.agent.metrics();
    assert.match(metrics, /^mayu_guest_zombie_processes 0$/m);
  });

  it('gives a terminal: tty output, and resizes it', async () => {
    const { sandbox } = await vms().boot();
    await sandbox.createContainer({ id: 'tty', spec: await spec(['sh', '-c', 'tty; read x; stty size'], { terminal: true }), rootfs: 'image', stdio: { terminal: true, stdin: true } });
    const ref = { containerId: 'tty', execId: '' };
    const out = collect(sandbox.agent, ref, 'stdout');
    const err = collect(sandbox.agent, ref, 'stderr');
    await sandbox.agent.resizeTty(ref, 24, 80);
    await sandbox.agent.startContainer('tty');
    await sleep(500);
    await sandbox.agent.resizeTty(ref, 41, 123);
    await sandbox.agent.writeStdin(ref, Buffer.from('\n'));
    assert.equal((await sandbox.agent.waitProcess(ref)).exitStatus, 0);
    const text = await out;
    assert.match(text, /^\/dev\/pts\/\d+\r\n/);
    assert.match(text, /41 123\r\n$/);
    assert.equal(await err, '', 'a terminal has one output stream');
  });

  it('runs two containers in one sandbox, and execs into a running one', async () => {
    const { sandbox } = await vms().boot();
    const rootfs = 'image' as const;
    await sandbox.createContainer({ id: 'one', spec: await spec(['sleep', '600'], {}, (s) => (s.hostname = 'one')), rootfs, stdio: { terminal: false, stdin: false } });
    await sandbox.createContainer({ id: 'two', spec: await spec(['sleep', '600'], {}, (s) => (s.hostname = 'two')), rootfs, stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('one');
    await sandbox.agent.startContainer('two');
    for (const id of ['one', 'two']) {
      const ref = { containerId: id, execId: `hn-${id}` };
      await sandbox.agent.execProcess({ ...ref, process: { args: ['sh', '-c', 'hostname; exit 3'], cwd: '/', env: ['PATH=/bin'] }, stdio: { terminal: false, stdin: false } });
      const out = await collect(sandbox.agent, ref, 'stdout');
      assert.equal(out, `${id}\n`);
      assert.equal((await sandbox.agent.waitProcess(ref)).exitStatus, 3);
    }
    const stats = await sandbox.agent.stats('one');
    assert.ok(stats.memory.usageBytes > 0 && stats.pids.current >= 1, JSON.stringify(stats));
    await sandbox.agent.pauseContainer('two');
    await sandbox.agent.resumeContainer('two');
    await sandbox.removeContainer('one');
    await assert.rejects(sandbox.agent.stats('one'), { code: 'ERR_NOT_FOUND' });
    await sandbox.removeContainer('two');
  });

  it('reports an OOM kill', async () => {
    const { sandbox } = await vms().boot();
    const oom = sandbox.agent.nextOomEvent();
    const r = await runIn(
      sandbox,
      'hog',
      // tmpfs pages count against the container's memory limit, and there is no swap to go to.
      await spec(['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null && echo survived'], {}, (s) => {
        (s.linux as { resources: Record<string, unknown> }).resources.memory = { limit: 16 * 1048576 };
      }),
    );
    assert.notEqual(r.stdout, 'survived\n');
    assert.equal(await oom, 'hog');
  });

  it('rejects a malformed OCI spec naming each field, and leaves nothing in the guest or on the host', async () => {
    const { sandbox } = await vms().boot();
    const bad = await spec(['sh'], {}, (s) => {
      (s.process as Record<string, unknown>).args = [];
      (s.process as Record<string, unknown>).cwd = 'relative';
      s.hooks = { prestart: [{ path: '/bin/true' }] };
    });
    await assert.rejects(sandbox.createContainer({ id: 'bad', spec: bad, rootfs: 'image', stdio: { terminal: false, stdin: false } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
      assert.match(err.message, /\/hooks: is not supported/);
      assert.match(err.message, /\/process\/args: must NOT have fewer than 1 items \(got \[\]\)/);
      assert.match(err.message, /\/process\/cwd: must match pattern "\^\/" \(got "relative"\)/);
      return true;
    });
    await assert.rejects(sandbox.agent.stats('bad'), { code: 'ERR_NOT_FOUND' });
    // The same id works once the spec is right: nothing of the failed attempt was left.
    assert.equal((await runIn(sandbox, 'bad', await spec(['true']))).status, 0);
  });
});
