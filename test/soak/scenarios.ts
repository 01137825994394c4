import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { EXAMPLE_IMAGE, MAYU_RUNTIME, type PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, removePodsQuietly, startPodContainer } from '../helpers/cri-client.js';
import { leaksBetween, resourcesOf, rssMib } from './resources.js';
import { formatTrend, trendOf, type Sample, type Trend } from './trend.js';

/**
 * The soak scenarios of issue 13, shared by the short CI suite
 * (test/integration/soak.test.ts) and `npm run soak`. Each runs its cycles
 * against a private containerd, samples memory as it goes, then waits for
 * the shims to wind down and lists every leak against the resources held
 * before it began.
 */
export interface ScenarioReport {
  name: string;
  cycles: number;
  seconds: number;
  leaks: string[];
  trends: Record<string, Trend>;
  /**
   * Series reported but not judged: QEMU's RSS grows as the guest touches its
   * RAM (bounded by the VM's size), which is not a leak; and every series of a
   * run shorter than JUDGED_CYCLES, where V8's heap still climbs to its plateau.
   */
  informational: string[];
}

export type Progress = (done: number, total: number) => void;

/** The shims' mayu configuration needs `host_namespaces = "vm"` for the exec soak's hostPID pod (it reads the agent's RSS). */
export const SOAK_RUNTIME_TOML = 'host_namespaces = "vm"';

/** Runs this long or longer have their memory trends judged. */
const JUDGED_CYCLES = 100;

/** Growth that counts as a leak: beyond 8 MiB and 10 % of the level, projected over the run. */
const LEAK = { minMib: 8, fraction: 0.1 };

async function measured(ctrd: PrivateContainerd, name: string, cycles: number, body: (series: (key: string, at: number, mib: number) => void) => Promise<void>): Promise<ScenarioReport> {
  await ctrd.settle(30_000);
  const before = resourcesOf(ctrd);
  const samples = new Map<string, Sample[]>();
  const t0 = performance.now();
  await body((key, at, mib) => samples.set(key, [...(samples.get(key) ?? []), { at, mib }]));
  const seconds = (performance.now() - t0) / 1000;
  await ctrd.settle(60_000);
  // A moment for containerd to close what a finished shim held.
  await sleep(1000);
  const trends = Object.fromEntries([...samples].map(([k, s]) => [k, trendOf(s, LEAK)]));
  return { name, cycles, seconds, leaks: leaksBetween(before, resourcesOf(ctrd)), trends, informational: [...samples.keys()].filter((k) => k.startsWith('QEMU') || cycles < JUDGED_CYCLES) };
}

const every = (n: number, parts: number): number => Math.max(1, Math.floor(n / parts));

/** `ctr run --rm` of the mayu runtime, `n` times: each prints its number and exits 3. */
export function ctrRunCycles(ctrd: PrivateContainerd, n: number, progress: Progress = () => {}): Promise<ScenarioReport> {
  return measured(ctrd, `ctr run --rm cycles`, n, async (sample) => {
    for (let i = 0; i < n; i++) {
      const r = await ctrd.ctr(['run', '--rm', '--runtime', MAYU_RUNTIME, '--runtime-config-path', ctrd.mayuConfig, EXAMPLE_IMAGE, `soak-${i}`, 'sh', '-c', `echo soak-${i}; exit 3`]);
      assert.deepEqual([r.code, r.stdout], [3, `soak-${i}\n`], `cycle ${i}: ${r.stderr}`);
      sample('containerd RSS', i, rssMib(ctrd.pid));
      progress(i + 1, n);
    }
  });
}

/** One pod as kubelet runs it: RunPodSandbox, CreateContainer, StartContainer, ExecSync, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox. */
async function podCycle(cri: CriClient, ctrd: PrivateContainerd, name: string): Promise<void> {
  const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`);
  const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: 'mayu' });
  try {
    const containerId = await startPodContainer(cri, { podSandboxId, config }, 'main', ['sleep', '3600']);
    const ex = await cri.execSync({ containerId, cmd: ['echo', name], timeout: 60n });
    assert.deepEqual([ex.exitCode, Buffer.from(ex.stdout).toString()], [0, `${name}\n`], name);
    await cri.stopContainer({ containerId, timeout: 2n });
    await cri.removeContainer({ containerId });
    await cri.stopPodSandbox({ podSandboxId });
    await cri.removePodSandbox({ podSandboxId });
  } catch (err) {
    await removePodsQuietly(cri, [podSandboxId]);
    throw err;
  }
}

export function criPodCycles(ctrd: PrivateContainerd, n: number, progress: Progress = () => {}): Promise<ScenarioReport> {
  const cri = new CriClient(ctrd.address);
  return measured(ctrd, 'CRI pod cycles', n, async (sample) => {
    try {
      for (let i = 0; i < n; i++) {
        await podCycle(cri, ctrd, `soak-pod-${i}`);
        sample('containerd RSS', i, rssMib(ctrd.pid));
        progress(i + 1, n);
      }
    } finally {
      cri.close();
    }
  });
}

/** The agent's RSS in MiB, read from a hostPID container (it shares the VM's PID namespace under host_namespaces = "vm"). */
async function agentRssMib(cri: CriClient, containerId: string): Promise<number> {
  // [m]: this script's own command line does not match.
  const script = 'for p in /proc/[0-9]*; do case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in *[m]ayu-agent*) grep VmRSS $p/status;; esac; done';
  const r = await cri.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 60n });
  const kb = /VmRSS:\s+(\d+) kB/.exec(Buffer.from(r.stdout).toString())?.[1];
  return kb ? Number(kb) / 1024 : NaN;
}

/** `n` ExecSyncs into one pod's container; samples the shim's, QEMU's and the agent's RSS as it goes. */
export function execsIntoOnePod(ctrd: PrivateContainerd, n: number, progress: Progress = () => {}): Promise<ScenarioReport> {
  const cri = new CriClient(ctrd.address);
  return measured(ctrd, 'ExecSync into one pod', n, async (sample) => {
    const pid = criWire.NamespaceOption.fromPartial({ pid: criWire.NamespaceMode.NODE });
    const config = podSandboxConfig('soak-exec', `${ctrd.dir}/pod-logs`, {
      linux: criWire.LinuxPodSandboxConfig.fromPartial({ cgroupParent: '', securityContext: { namespaceOptions: pid, privileged: false } }),
    });
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: 'mayu' });
    try {
      const { containerId } = await cri.createContainer({
        podSandboxId,
        config: criWire.ContainerConfig.fromPartial({
          metadata: { name: 'main', attempt: 0 },
          image: { image: EXAMPLE_IMAGE },
          command: ['sleep', '3600'],
          logPath: 'main.log',
          linux: { securityContext: { namespaceOptions: pid } },
        }),
        sandboxConfig: config,
      });
      await cri.startContainer({ containerId });
      const [shim] = ctrd.shims();
      const [qemu] = ctrd.vms();
      for (let i = 0; i < n; i++) {
        const ex = await cri.execSync({ containerId, cmd: ['sh', '-c', `echo ${i}; echo e${i} >&2; exit ${i % 7}`], timeout: 60n });
        assert.deepEqual([ex.exitCode, Buffer.from(ex.stdout).toString(), Buffer.from(ex.stderr).toString()], [i % 7, `${i}\n`, `e${i}\n`], `exec ${i}`);
        if (i % every(n, 25) === 0 || i === n - 1) {
          sample('shim RSS', i, rssMib(shim));
          sample('QEMU RSS', i, rssMib(qemu));
          sample('agent RSS (in the guest)', i, await agentRssMib(cri, containerId));
          sample('containerd RSS', i, rssMib(ctrd.pid));
        }
        progress(i + 1, n);
      }
      await cri.stopPodSandbox({ podSandboxId });
      await cri.removePodSandbox({ podSandboxId });
    } catch (err) {
      await removePodsQuietly(cri, [podSandboxId]);
      throw err;
    } finally {
      cri.close();
    }
  });
}

/** `n` pods started at once, each with a container and an ExecSync, then all stopped and removed at once. */
export function concurrentPods(ctrd: PrivateContainerd, n: number, progress: Progress = () => {}): Promise<ScenarioReport> {
  const cri = new CriClient(ctrd.address, 600_000);
  return measured(ctrd, 'concurrent pods', n, async () => {
    const ids: string[] = [];
    let done = 0;
    try {
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const config = podSandboxConfig(`soak-many-${i}`, `${ctrd.dir}/pod-logs`);
          const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: 'mayu' });
          ids.push(podSandboxId);
          const containerId = await startPodContainer(cri, { podSandboxId, config }, 'main', ['sleep', '3600']);
          const ex = await cri.execSync({ containerId, cmd: ['cat', '/proc/sys/kernel/hostname'], timeout: 120n });
          assert.equal(Buffer.from(ex.stdout).toString(), `soak-many-${i}\n`);
          progress(++done, 2 * n);
        }),
      );
      assert.equal(ctrd.vms().length, n, 'a VM per pod');
      await Promise.all(
        ids.map(async (podSandboxId) => {
          await cri.stopPodSandbox({ podSandboxId });
          await cri.removePodSandbox({ podSandboxId });
          progress(++done, 2 * n);
        }),
      );
    } catch (err) {
      await removePodsQuietly(cri, ids);
      throw err;
    } finally {
      cri.close();
    }
  });
}

export function formatReport(r: ScenarioReport): string {
  return [
    `${r.name}: ${r.cycles} in ${r.seconds.toFixed(0)} s (${((r.seconds * 1000) / Math.max(1, r.cycles)).toFixed(0)} ms each); leaks: ${r.leaks.length === 0 ? 'none' : r.leaks.length}`,
    ...r.leaks.map((l) => `  LEAK ${l}`),
    ...Object.entries(r.trends).map(([k, t]) => `  ${formatTrend(k, t)}${r.informational.includes(k) ? ' (not judged)' : ''}`),
  ].join('\n');
}

/** The problems a report shows: leaked resources and memory that grows. */
export const problemsOf = (r: ScenarioReport): string[] => [
  ...r.leaks,
  ...Object.entries(r.trends).flatMap(([k, t]) => (t.leak && !r.informational.includes(k) ? [`${k} grows: ${formatTrend(k, t)}`] : [])),
];

/** One ctr run and one pod cycle, before the baseline: the VM template, containerd's caches and the CNI bridge exist from then on. */
export async function warmUp(ctrd: PrivateContainerd): Promise<void> {
  await ctrRunCycles(ctrd, 1);
  const cri = new CriClient(ctrd.address);
  try {
    await podCycle(cri, ctrd, 'soak-warm-up');
  } finally {
    cri.close();
  }
}
