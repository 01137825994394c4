import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sandbox } from '@mayu/runtime';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { imageSpec, runIn } from '../helpers/in-guest.js';

/** Health checks every second, each allowed 2 s: a hung VM is found within ~9 s. */
const FAST_HEALTH = '[agent]\nhealth_interval = 1\nhealth_timeout = 2\n[runtime]\nhost_namespaces = "vm"\n';
const BOUND_MS = 30_000;

/** A container that sleeps, and its WaitProcess (which has no deadline of its own). */
async function sleeper(sandbox: Sandbox, id: string, edit?: (s: Record<string, unknown>) => void): Promise<{ waiting: Promise<unknown> }> {
  await sandbox.createContainer({ id, spec: await imageSpec(['sleep', '600'], {}, edit), rootfs: 'image', stdio: { terminal: false, stdin: false } });
  await sandbox.agent.startContainer(id);
  const waiting = sandbox.agent.waitProcess({ containerId: id, execId: '' });
  waiting.catch(() => {});
  return { waiting };
}

/** Resolves with how long `p` took to settle (it must settle within BOUND_MS), and whether it was rejected. */
async function settles(p: Promise<unknown>): Promise<{ ms: number; rejected: boolean }> {
  const t0 = performance.now();
  const outcome = await Promise.race([
    p.then(
      () => false,
      () => true,
    ),
    sleep(BOUND_MS).then(() => 'timeout' as const),
  ]);
  assert.notEqual(outcome, 'timeout', `still waiting after ${BOUND_MS} ms`);
  return { ms: performance.now() - t0, rejected: outcome === true };
}

/**
 * A VM that stops answering: its vCPUs stopped (QEMU itself stopped here)
 * or its agent wedged. The sandbox's health checks find it, kill it, and
 * every waiting caller is answered — as with runc, where a container's
 * death is always reported.
 */
describe('faults inside the VM: a hung guest, a hung agent, a guest kernel panic, guest memory exhausted, a fork bomb (real VMs)', () => {
  const vms = useGuestFactory();

  it('a hung VM (QEMU stopped): killed within bounded time, a waiting WaitProcess fails, the reason says why, nothing is left', async () => {
    const { sandbox } = await vms().boot({ toml: FAST_HEALTH });
    const { waiting } = await sleeper(sandbox, 'hang-1');
    const pid = sandbox.pid as number;
    process.kill(pid, 'SIGSTOP');
    const { ms, rejected } = await settles(waiting);
    assert.ok(rejected, 'the wait failed: the VM is gone');
    const exit = await sandbox.exited();
    assert.match(sandbox.exitReason(exit), /answered none of 3 health checks in a row .*the VM is hung/);
    assert.ok(ms < BOUND_MS, `answered after ${Math.round(ms)} ms`);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'QEMU is gone');
  });

  it('a hung agent (SIGSTOP from a container in the VM): the same, and a VM that keeps answering is left alone', async () => {
    const { sandbox } = await vms().boot({ toml: FAST_HEALTH });
    const { waiting } = await sleeper(sandbox, 'calm');
    // Several health checks pass while the VM is well.
    await sleep(4000);
    assert.equal(sandbox.state, 'running');
    // A container in the VM's own PID namespace (runtime.host_namespaces = "vm") stops the agent.
    const inVmPidns = (s: Record<string, unknown>): void => {
      const linux = s.linux as { namespaces: { type: string }[] };
      linux.namespaces = linux.namespaces.filter((n) => n.type !== 'pid');
    };
    const script = 'for p in /proc/[0-9]*; do case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in *mayu-agent*) kill -STOP ${p#/proc/};; esac; done';
    await sandbox.createContainer({ id: 'stopper', spec: await imageSpec(['sh', '-c', script], {}, inVmPidns), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('stopper').catch(() => {});
    const { rejected } = await settles(waiting);
    assert.ok(rejected);
    assert.match(sandbox.exitReason(await sandbox.exited()), /the VM is hung/);
  });

  it('containers that exhaust guest memory with many processes, each smaller than the agent, are OOM-killed in their cgroup; the agent lives', async () => {
    const { sandbox } = await vms().boot();
    const oom = sandbox.agent.nextOomEvent();
    // 48 processes of 12 MiB each (more than the guest's 512 MiB), held by a pipe nobody reads. Each is
    // smaller than the agent (~13 MiB anonymous): the kernel's global OOM killer picked the agent, and
    // the VM powered off, before the containers' memory was capped below the guest's.
    const hog = 'for i in $(seq 48); do (dd if=/dev/zero bs=12M count=1 2>/dev/null | sleep 600) & done; wait';
    await sandbox.createContainer({ id: 'hogs', spec: await imageSpec(['sh', '-c', hog]), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('hogs');
    assert.equal(await Promise.race([oom, sleep(60_000).then(() => 'no OOM event')]), 'hogs');
    await sleep(2000);
    assert.equal(await sandbox.agent.check(), 'serving', 'the agent survived');
    assert.equal(sandbox.state, 'running');
    const stats = await sandbox.agent.stats('hogs');
    assert.ok(stats.memory.usageBytes < 512 * 1048576, 'the containers stayed under their cap');
    await sandbox.removeContainer('hogs');
  });

  it("a fork bomb is held by the pod's pids limit: the agent serves, another container starts, the bomb is removed", async () => {
    const { sandbox } = await vms().boot();
    const withPids = (s: Record<string, unknown>): void => {
      (s.linux as { resources: Record<string, unknown> }).resources.pids = { limit: 64 };
    };
    const bomb = 'f() { f | f & }; f; sleep 600';
    await sandbox.createContainer({ id: 'bomb', spec: await imageSpec(['sh', '-c', bomb], {}, withPids), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('bomb');
    await sleep(5000);
    assert.equal(await sandbox.agent.check(), 'serving');
    const { pids } = await sandbox.agent.stats('bomb');
    assert.equal(pids.limit, 64);
    assert.ok(pids.current <= 64 && pids.current > 8, `the bomb ran, and stopped at its limit (${pids.current} processes)`);
    const probe = await runIn(sandbox, 'probe', await imageSpec(['echo', 'still here']));
    assert.deepEqual([probe.status, probe.stdout], [0, 'still here\n']);
    const t0 = performance.now();
    await sandbox.removeContainer('bomb');
    assert.ok(performance.now() - t0 < 20_000, 'removed within bounded time');
    assert.equal(await sandbox.agent.check(), 'serving');
  });

  it('a guest kernel panic (a privileged container writes c to /proc/sysrq-trigger): the VM is gone, waiting callers answered, the reason is the panic', async () => {
    const { sandbox } = await vms().boot();
    const { waiting } = await sleeper(sandbox, 'bystander');
    const privileged = (s: Record<string, unknown>): void => {
      const p = s.process as { capabilities: Record<string, string[]> };
      for (const set of Object.keys(p.capabilities)) p.capabilities[set] = [...(p.capabilities[set] ?? []), 'CAP_SYS_ADMIN'];
      const linux = s.linux as Record<string, unknown>;
      linux.maskedPaths = [];
      linux.readonlyPaths = [];
    };
    await sandbox.createContainer({ id: 'crasher', spec: await imageSpec(['sh', '-c', 'echo c > /proc/sysrq-trigger'], {}, privileged), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('crasher').catch(() => {});
    const { rejected } = await settles(waiting);
    assert.ok(rejected, "the bystander's wait failed: the VM is gone");
    assert.equal(sandbox.exitReason(await sandbox.exited()), 'guest kernel panic: sysrq triggered crash');
  });
});

/** The agent's own RSS, from its metrics (MiB). */
const agentRssMib = async (sandbox: Sandbox): Promise<number> => Number(/^mayu_agent_rss_bytes (\d+)$/m.exec(await sandbox.agent.metrics())?.[1] ?? NaN) / 1048576;

describe('streams: a stalled reader (real VM)', () => {
  const vms = useGuestFactory();

  it('64 MiB of stdout that nobody reads: the writer blocks and the agent holds its bound; a late reader gets every byte', async () => {
    const { sandbox } = await vms().boot();
    const before = await agentRssMib(sandbox);
    const bytes = 64 * 1048576;
    await sandbox.createContainer({ id: 'flood', spec: await imageSpec(['sh', '-c', `head -c ${bytes} /dev/zero; echo done >&2`]), rootfs: 'image', stdio: { terminal: false, stdin: false } });
    await sandbox.agent.startContainer('flood');
    await sleep(8000); // nobody reads
    const stalled = await agentRssMib(sandbox);
    const ref = { containerId: 'flood', execId: '' };
    const exitedEarly = await Promise.race([sandbox.agent.waitProcess(ref).then(() => true), sleep(500).then(() => false)]);
    assert.equal(exitedEarly, false, 'the writer waits for a reader');
    assert.ok(stalled - before < 16, `the agent's RSS grew ${(stalled - before).toFixed(1)} MiB while nobody read (bound: 4 MiB per stream, plus its own churn)`);
    let got = 0;
    let nonZero = false;
    for (;;) {
      const chunk = await sandbox.agent.readOutput(ref, 'stdout');
      if (chunk.length === 0) break;
      got += chunk.length;
      nonZero ||= chunk.some((b) => b !== 0);
    }
    assert.equal(got, bytes, 'every byte');
    assert.equal(nonZero, false);
    assert.equal((await sandbox.agent.waitProcess(ref)).exitStatus, 0);
  });
});
