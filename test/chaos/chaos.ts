import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { EXAMPLE_IMAGE, MAYU_RUNTIME, PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, removePodsQuietly } from '../helpers/cri-client.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { leaksBetween, resourcesOf } from '../soak/resources.js';
import { warmUp } from '../soak/scenarios.js';

/**
 * The chaos driver of issue 13: a seeded random schedule of faults against a
 * running pool of mayu tasks (ctr tasks, each its own shim and VM, and CRI
 * pods with one container, one in four) under a private containerd, with invariants checked as it goes and after a drain:
 *
 *  - every task started gets exactly one TaskExit for its process, and only
 *    after something ended it (a fault or the drain) — within EXIT_BOUND_MS;
 *    so does every pod's pause container;
 *  - a task nobody harmed keeps running (a containerd restart, an exec that
 *    is OOM-killed or an exec storm do not end it);
 *  - an exec answers with its own output, or fails: never with another's;
 *  - what a task logged (file://) is whole: its ticks run 0, 1, 2... with
 *    none missing or repeated, across containerd restarts;
 *  - every task and container can be deleted, and after the drain nothing
 *    is left (processes, mounts, sockets, fifos, state, containerd's fds).
 *
 * The same seed gives the same schedule (what each fault hits depends on the
 * pool at that moment, so a rerun is close, not identical).
 */
export interface ChaosOptions {
  seed: number;
  minutes: number;
  /** Tasks kept running (default 3: a 2-core host). */
  pool?: number;
  /**
   * At least this many faults, whatever the time (default 0): a slow host
   * gets fewer into `minutes`, and a run with too few proves little. The run
   * then goes on past `minutes` until they are in, for at most as long again.
   */
  minFaults?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  seconds: number;
  tasksStarted: number;
  faults: Record<string, number>;
  execs: number;
  /** TaskExits for which the `ctr events` subscriber was down (containerd restarting): the task's state was checked instead. */
  exitsInSubscriberGap: number;
  /** Broken invariants, the first one first. */
  violations: string[];
  leaks: string[];
}

/** Health checks every second (a hung VM is found within ~9 s). */
const CHAOS_TOML = '[agent]\nhealth_interval = 1\nhealth_timeout = 2\n';
/** The longest a task's end may take to be reported: a hung VM's detection plus a shim's event retries. */
const EXIT_BOUND_MS = 60_000;
const MEMORY_LIMIT = 128 * 1048576;
const TICK = 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.5; done';

const FAULTS = ['kill-qemu', 'stop-qemu', 'kill-shim', 'kill-task', 'panic-guest', 'restart-containerd', 'oom-exec', 'exec-storm'] as const;
type Fault = (typeof FAULTS)[number];

/** Whether a command line names task `id` as a whole word or path component (chaos-1 is not chaos-10). */
const mentions = (cmdline: string, id: string): boolean => new RegExp(`(^|[\\s/=,-])${id}($|[\\s/,.])`).test(cmdline);

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Task {
  /** The container's id: ctr's name, or the CRI's 64-hex id. */
  id: string;
  /** chaos-N, for the log. */
  name: string;
  /** A ctr task (its own VM), or a CRI pod's container (the pod's VM, with the pause container beside it). */
  kind: 'ctr' | 'cri';
  /** The CRI pod: its sandbox id (the pause container's TaskExits), and what ended it. */
  pod?: { id: string; config: criWire.PodSandboxConfig; exits: number[]; endedBy?: string; endedAt?: number };
  privileged: boolean;
  log: string;
  /** What ended it, and when (ms since the run began). */
  endedBy?: string;
  endedAt?: number;
  exits: number[];
  deleted: boolean;
}

/** `ctr events`, re-subscribed after each containerd restart; TaskExits of a task's own process, by container id. */
class ExitWatch {
  private child: ChildProcess | undefined;
  private buffer = '';
  readonly gaps: { from: number; to: number }[] = [];
  private downSince: number | undefined;

  constructor(
    private readonly ctrd: PrivateContainerd,
    private readonly now: () => number,
    private readonly onExit: (id: string, status: number) => void,
  ) {}

  async start(): Promise<void> {
    const child = this.ctrd.startCtr(['events']);
    this.child = child;
    child.stdout?.on('data', (c: Buffer) => {
      this.buffer += c.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop() ?? '';
      for (const line of lines) {
        const json = / \/tasks\/exit (\{.*\})\s*$/.exec(line)?.[1];
        if (!json) continue;
        const e = JSON.parse(json) as { container_id?: string; id?: string; exit_status?: number };
        if (e.container_id && e.id === e.container_id) this.onExit(e.container_id, e.exit_status ?? 0);
      }
    });
    child.once('exit', () => {
      if (this.child === child) this.downSince ??= this.now();
    });
    // The subscription is live once containerd has it; a moment is enough on a local socket.
    await sleep(300);
    if (this.downSince !== undefined) {
      this.gaps.push({ from: this.downSince, to: this.now() });
      this.downSince = undefined;
    }
  }

  markDown(): void {
    this.downSince ??= this.now();
  }

  stop(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.log ?? (() => {});
  const random = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const stamp = (): string => `t=${(now() / 1000).toFixed(1)}s`;
  const report: ChaosReport = { seed: o.seed, seconds: 0, tasksStarted: 0, faults: {}, execs: 0, exitsInSubscriberGap: 0, violations: [], leaks: [] };
  const violate = (what: string): void => {
    if (report.violations.length === 0) say(`${stamp()} FIRST BROKEN INVARIANT (seed ${o.seed}): ${what}`);
    report.violations.push(`${stamp()} ${what}`);
  };

  const ctrd = await PrivateContainerd.start({ extraToml: CHAOS_TOML });
  const logs = join(ctrd.dir, 'task-logs');
  mkdirSync(logs, { recursive: true });
  const tasks = new Map<string, Task>();
  const pods = new Map<string, NonNullable<Task['pod']>>();
  let serial = 0;
  const watch = new ExitWatch(ctrd, now, (id, status) => {
    const pod = pods.get(id);
    if (pod) {
      pod.exits.push(status);
      if (pod.exits.length > 1) violate(`pod ${id}: its pause container's TaskExit ${pod.exits.length} times`);
      if (!pod.endedBy) violate(`pod ${id}: its pause container exited (${status}) though nothing ended it`);
      return;
    }
    const t = tasks.get(id);
    if (!t) return;
    t.exits.push(status);
    if (t.exits.length > 1) violate(`${id}: TaskExit ${t.exits.length} times (${t.exits.join(', ')})`);
    if (!t.endedBy) violate(`${id}: exited (${status}) though nothing ended it`);
  });
  let failed = false;
  let closeCri = (): void => {};
  try {
    // Warm-up: the template and the CNI bridge exist before the baseline.
    await warmUp(ctrd);
    await ctrd.settle(30_000);
    const baseline = resourcesOf(ctrd);
    await watch.start();

    const live = (): Task[] => [...tasks.values()].filter((t) => !t.endedBy);
    const ctr = (args: string[], timeoutMs = 120_000, namespace = 'default') => ctrd.ctr(args, { timeoutMs, namespace });
    const ctrOf = (t: Task, args: string[], timeoutMs = 120_000) => ctr(args, timeoutMs, t.kind === 'cri' ? 'k8s.io' : 'default');
    const cri = new CriClient(ctrd.address, 120_000);
    closeCri = () => cri.close();

    /** A CRI pod with one container logging ticks (its memory limited as the ctr tasks'); one in four of the pool. */
    const startPod = async (): Promise<void> => {
      const name = `chaos-${++serial}`;
      const config = podSandboxConfig(name, join(logs, name));
      let podSandboxId = '';
      try {
        podSandboxId = (await cri.runPodSandbox({ config, runtimeHandler: 'mayu' })).podSandboxId;
        const pod = { id: podSandboxId, config, exits: [] as number[] };
        pods.set(podSandboxId, pod);
        const { containerId } = await cri.createContainer({
          podSandboxId,
          config: criWire.ContainerConfig.fromPartial({
            metadata: { name: 'tick', attempt: 0 },
            image: { image: EXAMPLE_IMAGE },
            command: ['sh', '-c', TICK],
            logPath: 'tick.log',
            linux: { resources: { memoryLimitInBytes: BigInt(MEMORY_LIMIT) } },
          }),
          sandboxConfig: config,
        });
        await cri.startContainer({ containerId });
        tasks.set(containerId, { id: containerId, name, kind: 'cri', pod, privileged: false, log: join(logs, name, 'tick.log'), exits: [], deleted: false });
        report.tasksStarted++;
      } catch (err) {
        say(`${stamp()} start of pod ${name} failed: ${(err as Error).message}`);
        if (podSandboxId) {
          const pod = pods.get(podSandboxId);
          if (pod) pod.endedBy = 'failed start';
          await removePodsQuietly(cri, [podSandboxId]);
          pods.delete(podSandboxId);
        }
      }
    };

    const startTask = async (): Promise<void> => {
      const id = `chaos-${++serial}`;
      const privileged = random() < 0.3;
      const task: Task = { id, name: id, kind: 'ctr', privileged, log: join(logs, `${id}.log`), exits: [], deleted: false };
      const r = await ctr([
        'run',
        '-d',
        '--runtime',
        MAYU_RUNTIME,
        '--runtime-config-path',
        ctrd.mayuConfig,
        '--memory-limit',
        String(MEMORY_LIMIT),
        '--log-uri',
        `file://${task.log}`,
        ...(privileged ? ['--privileged'] : []),
        EXAMPLE_IMAGE,
        id,
        'sh',
        '-c',
        TICK,
      ]);
      if (r.code !== 0) {
        say(`${stamp()} start ${id} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
        await ctr(['tasks', 'rm', '--force', id]);
        await ctr(['containers', 'rm', id]);
        return;
      }
      tasks.set(id, task);
      report.tasksStarted++;
    };

    /** The VM's and the shim's id: the task's own, or its pod's. */
    const groupOf = (t: Task): string => t.pod?.id ?? t.id;
    const vmOf = (t: Task): number | undefined => processesMentioning(join(ctrd.dir, 'mayu')).find((p) => p.cmdline.includes('qemu-system') && mentions(p.cmdline, groupOf(t)))?.pid;
    const shimOf = (t: Task): number | undefined => processesMentioning(ctrd.address).find((p) => p.cmdline.includes('containerd-shim-mayu-v2') && mentions(p.cmdline, groupOf(t)))?.pid;

    const exec = async (t: Task, n: number, script: string): Promise<{ code: number; stdout: string }> => {
      report.execs++;
      return ctrOf(t, ['tasks', 'exec', '--exec-id', `x${n}`, t.id, 'sh', '-c', script], 60_000);
    };

    const inject = async (fault: Fault, t: Task): Promise<void> => {
      report.faults[fault] = (report.faults[fault] ?? 0) + 1;
      say(`${stamp()} fault=${fault} task=${t.name}${t.kind === 'cri' ? ' (CRI pod)' : ''}`);
      const end = (): void => {
        t.endedBy = fault;
        t.endedAt = now();
        // The VM goes: the pod's pause container with it (a task killed alone leaves its pod running).
        if (t.pod && fault !== 'kill-task') {
          t.pod.endedBy = fault;
          t.pod.endedAt = now();
        }
      };
      switch (fault) {
        case 'kill-qemu':
        case 'stop-qemu': {
          const pid = vmOf(t);
          if (pid === undefined) return violate(`${t.id}: no QEMU process while its task runs`);
          end();
          process.kill(pid, fault === 'kill-qemu' ? 'SIGKILL' : 'SIGSTOP');
          return;
        }
        case 'kill-shim': {
          const pid = shimOf(t);
          if (pid === undefined) return violate(`${t.id}: no shim process while its task runs`);
          end();
          process.kill(pid, 'SIGKILL');
          return;
        }
        case 'kill-task': {
          end();
          const r = await ctrOf(t, ['tasks', 'kill', '--signal', 'SIGKILL', t.id]);
          if (r.code !== 0) violate(`${t.id}: ctr tasks kill failed: ${r.stderr.trim()}`);
          return;
        }
        case 'panic-guest': {
          end();
          await exec(t, serial * 100 + 1, 'echo c > /proc/sysrq-trigger');
          return;
        }
        case 'restart-containerd': {
          watch.markDown();
          await ctrd.kill();
          await sleep(Math.floor(random() * 2000));
          await ctrd.restart();
          await watch.start();
          return;
        }
        case 'oom-exec': {
          // More than the task's memory limit, in one exec: dd is OOM-killed (137), the task lives on.
          const r = await exec(t, serial * 100 + 2, 'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "dd=$?"');
          if (r.code === 0 && !t.endedBy && r.stdout.trim() !== 'dd=137') violate(`${t.id}: a 200 MiB buffer under a 128 MiB limit was not OOM-killed (${r.stdout.trim()})`);
          return;
        }
        case 'exec-storm': {
          const results = await Promise.all(Array.from({ length: 4 }, (_, i) => exec(t, serial * 100 + 10 + i, `echo storm-${i}`).then((r) => ({ i, r }))));
          for (const { i, r } of results) if (r.code === 0 && r.stdout !== `storm-${i}\n`) violate(`${t.id}: exec ${i} answered ${JSON.stringify(r.stdout)}`);
          return;
        }
      }
    };

    const criExited = async (containerId: string): Promise<boolean> =>
      cri.containerStatus({ containerId, verbose: false }).then(
        (r) => r.status?.state === criWire.ContainerState.CONTAINER_EXITED,
        () => false,
      );

    /** Deletes ended tasks once their exit is known, and checks the bounds. */
    const reap = async (): Promise<void> => {
      const listed = async (namespace: string): Promise<[string, string][]> =>
        (await ctr(['tasks', 'ls'], 120_000, namespace)).stdout
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/))
          .map(([id = '', , st = '']): [string, string] => [id, st]);
      const status = new Map([...(await listed('default')), ...(await listed('k8s.io'))]);
      for (const t of tasks.values()) {
        if (t.deleted) continue;
        if (!t.endedBy) {
          if (status.size > 0 && status.get(t.id) !== 'RUNNING' && t.exits.length === 0) violate(`${t.id}: ${status.get(t.id) ?? 'gone'} though nothing ended it`);
          continue;
        }
        if (t.exits.length === 0) {
          const inGap = watch.gaps.some((g) => g.to >= (t.endedAt ?? 0));
          // A CRI container's task is deleted by the CRI plugin once it has the exit: its state is CRI's.
          const exited = t.kind === 'cri' ? await criExited(t.id) : status.get(t.id) === 'STOPPED';
          if (exited && inGap) report.exitsInSubscriberGap++;
          else if (now() - (t.endedAt ?? 0) > EXIT_BOUND_MS) violate(`${t.id}: no TaskExit ${EXIT_BOUND_MS / 1000} s after ${t.endedBy} (state ${status.get(t.id) ?? 'unknown'})`);
          else continue;
        }
        if (t.endedBy === 'kill-task' && t.exits.length === 1 && t.exits[0] !== 137) violate(`${t.id}: killed with SIGKILL, exit status ${t.exits[0]} (runc: 137)`);
        if (t.pod) {
          const pod = t.pod;
          if (!pod.endedBy) {
            pod.endedBy = 'cleanup';
            pod.endedAt = now();
          }
          // As the kubelet does, a removal that fails is tried again: the CRI plugin may still be
          // handling the exit it just published ("container is still running, to stop first").
          let failure = '';
          for (const delayMs of [0, 1000, 2000, 4000, 8000]) {
            await sleep(delayMs);
            try {
              await cri.stopPodSandbox({ podSandboxId: pod.id });
              await cri.removePodSandbox({ podSandboxId: pod.id });
              failure = '';
              break;
            } catch (err) {
              failure = (err as Error).message;
            }
          }
          if (failure) violate(`pod ${pod.id} (${t.name}): cannot be stopped and removed in 15 s: ${failure}`);
        } else {
          const rm = await ctr(['tasks', 'rm', '--force', t.id]);
          const crm = await ctr(['containers', 'rm', t.id]);
          if (crm.code !== 0) violate(`${t.id}: ctr containers rm failed: ${crm.stderr.trim()} (tasks rm: ${rm.stderr.trim()})`);
        }
        checkLog(t);
        t.deleted = true;
      }
    };

    const checkLog = (t: Task): void => {
      if (!existsSync(t.log)) return violate(`${t.name}: its log is missing`);
      const lines = readFileSync(t.log, 'utf8').split('\n').filter(Boolean);
      // A CRI log's lines are "TIMESTAMP stdout F TEXT".
      const ticks = t.kind === 'cri' ? lines.map((l) => /^\S+ stdout F (.*)$/.exec(l)?.[1] ?? `(not a CRI log line: ${l})`) : lines;
      const broken = ticks.findIndex((l, i) => l !== `tick ${i}`);
      if (broken >= 0) violate(`${t.name}: log line ${broken} is ${JSON.stringify(ticks[broken])}, not "tick ${broken}"`);
    };

    const injected = (): number => Object.values(report.faults).reduce((a, b) => a + b, 0);
    const until = o.minutes * 60_000;
    let deadline = until;
    while (now() < until || (injected() < (o.minFaults ?? 0) && now() < 2 * until)) {
      deadline = Math.max(deadline, now());
      while (live().length < (o.pool ?? 3)) await (random() < 0.25 ? startPod() : startTask());
      const fault = pick(FAULTS);
      const candidates = live().filter((t) => fault !== 'panic-guest' || t.privileged);
      const target = candidates.length > 0 ? pick(candidates) : undefined;
      if (target) await inject(fault, target);
      const pause = 3000 + Math.floor(random() * 9000);
      for (let waited = 0; waited < pause; waited += 1000) {
        await sleep(1000);
        await reap();
      }
    }

    // Drain: end every task, wait for each exit, delete everything.
    say(`${stamp()} draining ${live().length} tasks`);
    for (const t of live()) {
      t.endedBy = 'drain';
      t.endedAt = now();
      await ctrOf(t, ['tasks', 'kill', '--signal', 'SIGKILL', t.id]);
    }
    while ([...tasks.values()].some((t) => !t.deleted) && now() < deadline + EXIT_BOUND_MS + 30_000) {
      await sleep(1000);
      await reap();
    }
    for (const t of tasks.values()) if (!t.deleted) violate(`${t.name}: not deletable after the drain (ended by ${t.endedBy})`);
    // Every pod's pause container exited once (or while the events subscriber was down).
    for (const pod of pods.values()) {
      const inGap = watch.gaps.some((g) => g.to >= (pod.endedAt ?? 0));
      if (pod.exits.length === 0 && inGap) report.exitsInSubscriberGap++;
      else if (pod.exits.length !== 1) violate(`pod ${pod.id}: its pause container's TaskExit came ${pod.exits.length} times (ended by ${pod.endedBy})`);
    }
    watch.stop();
    await ctrd.settle(60_000);
    await sleep(1000);
    report.leaks = leaksBetween(baseline, resourcesOf(ctrd));
    for (const l of report.leaks) violate(`left behind: ${l}`);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    watch.stop();
    closeCri();
    report.seconds = now() / 1000;
    await ctrd.stop(failed || report.violations.length > 0 ? `chaos-seed-${o.seed}` : undefined);
  }
  return report;
}

export const formatChaos = (r: ChaosReport): string =>
  [
    `chaos seed ${r.seed}: ${r.seconds.toFixed(0)} s, ${r.tasksStarted} tasks started, ${Object.values(r.faults).reduce((a, b) => a + b, 0)} faults, ${r.execs} execs`,
    `faults: ${Object.entries(r.faults)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `exits checked by state (events subscriber down meanwhile): ${r.exitsInSubscriberGap}`,
    `leaks: ${r.leaks.length === 0 ? 'none' : r.leaks.join('; ')}`,
    r.violations.length === 0 ? 'invariants: all held' : `broken invariants (${r.violations.length}), first: ${r.violations[0]}`,
  ].join('\n');
