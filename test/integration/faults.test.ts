import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMayuError } from '@mayu/protocol';
import type { Sandbox } from '@mayu/runtime';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { imageSpec, runIn } from '../helpers/in-guest.js';
import { processesMentioning } from '../helpers/leftovers.js';

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

/** A container in the VM's own PID namespace (runtime.host_namespaces = "vm") sends the agent `signal`. */
async function signalAgentFromGuest(sandbox: Sandbox, signal: 'STOP' | 'KILL'): Promise<void> {
  const inVmPidns = (s: Record<string, unknown>): void => {
    const linux = s.linux as { namespaces: { type: string }[] };
    linux.namespaces = linux.namespaces.filter((n) => n.type !== 'pid');
  };
  // [m]: the script's own command line does not match.
  const script = `for p in /proc/[0-9]*; do case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in *[m]ayu-agent*) kill -${signal} \${p#/proc/};; esac; done`;
  const id = `agent-${signal.toLowerCase()}`;
  await sandbox.createContainer({ id, spec: await imageSpec(['sh', '-c', script], {}, inVmPidns), rootfs: 'image', stdio: { terminal: false, stdin: false } });
  await sandbox.agent.startContainer(id).catch(() => {});
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
    await signalAgentFromGuest(sandbox, 'STOP');
    const { rejected } = await settles(waiting);
    assert.ok(rejected);
    assert.match(sandbox.exitReason(await sandbox.exited()), /the VM is hung/);
  });

  it('the agent killed with SIGKILL inside the guest: the guest powers off, a waiting WaitProcess fails, the reason says the agent died', async () => {
    const { sandbox } = await vms().boot({ toml: FAST_HEALTH });
    const { waiting } = await sleeper(sandbox, 'bystander');
    await signalAgentFromGuest(sandbox, 'KILL');
    const { rejected } = await settles(waiting);
    assert.ok(rejected, "the bystander's wait failed: the VM is gone");
    assert.equal(sandbox.exitReason(await sandbox.exited()), 'the guest agent died (agent killed by signal 9) and the guest powered off');
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

  it("a tmpfs in the guest filled to the last block (the container's /dev/shm): the writer gets ENOSPC, the agent and other containers carry on", async () => {
    const { sandbox } = await vms().boot();
    const r = await runIn(sandbox, 'filler', await imageSpec(['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M 2>&1; echo "dd: $?"; df -k /dev/shm | tail -1']));
    assert.equal(r.status, 0);
    assert.match(r.stdout, /No space left on device/);
    assert.match(r.stdout, /dd: 1\n/);
    assert.match(r.stdout, /\s65536\s+65536\s+0\s+100%/, 'the 64 MiB tmpfs is full, and no fuller');
    assert.equal(await sandbox.agent.check(), 'serving');
    const probe = await runIn(sandbox, 'probe', await imageSpec(['sh', '-c', 'echo ok > /dev/shm/small && cat /dev/shm/small']));
    assert.deepEqual([probe.status, probe.stdout], [0, 'ok\n'], "another container's /dev/shm is its own");
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

/** Mounts a tmpfs of `size` at `dir` (made if need be); returns its unmount. */
function tmpfsAt(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0711`, 'mayu-test-full', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return () => {
    spawnSync('umount', ['-l', dir]);
  };
}

/** Fills the filesystem of `dir` to the last block with one file; returns its path. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k'], { stdio: 'ignore' });
  return file;
}

describe('exhaustion on the host: state and template directories full, more VMs than memory (real VMs)', () => {
  const vms = useGuestFactory();

  it('a full state directory (ENOSPC): the start fails naming the file, nothing is left, and it works once space is freed', async () => {
    const sandboxes = join(vms().stateRoot, 'sandboxes');
    const unmount = tmpfsAt(sandboxes, '256k');
    try {
      const filler = fill(sandboxes);
      const sandbox = vms().create({ toml: '[factory]\ntemplate = false\n' });
      await assert.rejects(sandbox.start(), (err: Error) => {
        assert.match(err.message, /no space left on device/i, err.message);
        assert.ok(err.message.includes(sandbox.stateDir), `the error names the file: ${err.message}`);
        return true;
      });
      assert.deepEqual(readdirSync(sandboxes), ['filler'], 'no state directory is left, not even half-written');
      assert.deepEqual(processesMentioning(vms().stateRoot), [], 'no QEMU');
      rmSync(filler);
      const { sandbox: again } = await vms().boot({ toml: '[factory]\ntemplate = false\n' });
      assert.equal(await again.agent.check(), 'serving');
      await again.destroy();
    } finally {
      unmount();
    }
  });

  it('a full template directory: the template cannot be saved, the sandbox boots cold and runs, no half-written template is left', async () => {
    const dir = join(vms().stateRoot, 'templates-full');
    const unmount = tmpfsAt(dir, '8m');
    try {
      fill(dir);
      const { sandbox } = await vms().boot({ toml: `[factory]\ntemplate_dir = "${dir}"\n` });
      const r = await runIn(sandbox, 'after', await imageSpec(['echo', 'cold but fine']));
      assert.deepEqual([r.status, r.stdout], [0, 'cold but fine\n']);
      assert.deepEqual(readdirSync(dir).sort(), ['filler'], 'no template, and nothing half-written beside the filler');
      await sandbox.destroy();
    } finally {
      unmount();
    }
  });

  it('more VMs than the host memory holds (host_memory_reserve): the one that does not fit is refused with the figures and leaves nothing; the other runs; it fits once that one stops', async () => {
    const available = Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024;
    // Room for one 1024 MiB VM and 512 MiB more: not for a second one while the first may still claim its memory.
    const toml = `[factory]\ntemplate = false\n[sandbox]\ndefault_memory = 1024\n[runtime]\nhost_memory_reserve = ${Math.floor(available - 1024 - 512)}\n`;
    const { sandbox: first } = await vms().boot({ toml, id: 'fits' });
    const second = vms().create({ toml, id: 'too-many' });
    await assert.rejects(second.start(), (err: unknown) => {
      assert.ok(isMayuError(err, 'ERR_RESOURCE_EXHAUSTED'), String(err));
      assert.match(
        err.message,
        /sandbox too-many: not enough host memory for a VM of 1024 MiB: the host has \d+ MiB available, \d+ MiB of it may yet be claimed by 1 running VM\(s\), and runtime.host_memory_reserve keeps \d+ MiB/,
      );
      return true;
    });
    assert.equal(second.state, 'stopped');
    assert.deepEqual(readdirSync(join(vms().stateRoot, 'sandboxes')), ['fits'], 'nothing of the refused one is left');
    assert.equal(processesMentioning(join(vms().stateRoot, 'sandboxes')).length, 1, 'one QEMU: the first');
    const r = await runIn(first, 'still', await imageSpec(['echo', 'still running']));
    assert.deepEqual([r.status, r.stdout], [0, 'still running\n']);
    await first.destroy();
    const { sandbox: third } = await vms().boot({ toml, id: 'fits-now' });
    assert.equal(await third.agent.check(), 'serving');
    await third.destroy();
  });
});
