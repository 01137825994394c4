import { CriClient, podSandboxConfig, removePodsQuietly, startPodContainer } from '../helpers/cri-client.js';
import { startInstalledContainerd } from './installed-containerd.js';
import { progress, summarize, type Summary } from './stats.js';

export interface CriBench {
  runs: number;
  /** RunPodSandbox → StartContainer returned (one container), ms. */
  start: { mayu: Summary; runc: Summary; ratio: number };
  /** The same, split: RunPodSandbox alone, then CreateContainer + StartContainer. */
  runPodSandbox: { mayu: Summary; runc: Summary };
  container: { mayu: Summary; runc: Summary };
  /** StopPodSandbox + RemovePodSandbox, ms. */
  teardown: { mayu: Summary; runc: Summary };
}

/**
 * A kubelet's start of a one-container pod through CRI on one private
 * containerd with the installed shim (its CNI bridge network, the pause image): RunPodSandbox,
 * CreateContainer, StartContainer, with the mayu handler and with runc,
 * alternating after one warm-up pod of each (the first mayu pod builds
 * the VM template); then StopPodSandbox and RemovePodSandbox.
 */
export async function criBench(runs: number): Promise<CriBench> {
  const installed = await startInstalledContainerd();
  const { ctrd } = installed;
  const cri = new CriClient(ctrd.address);
  const ms = {
    start: { mayu: [] as number[], runc: [] as number[] },
    pod: { mayu: [] as number[], runc: [] as number[] },
    container: { mayu: [] as number[], runc: [] as number[] },
    teardown: { mayu: [] as number[], runc: [] as number[] },
  };
  const onePod = async (kind: 'mayu' | 'runc', name: string): Promise<{ pod: number; container: number; teardown: number }> => {
    const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`);
    const t0 = performance.now();
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: kind === 'mayu' ? 'mayu' : '' });
    const t1 = performance.now();
    try {
      await startPodContainer(cri, { podSandboxId, config }, 'c', ['sleep', '3600']);
      const t2 = performance.now();
      await cri.stopPodSandbox({ podSandboxId });
      await cri.removePodSandbox({ podSandboxId });
      return { pod: t1 - t0, container: t2 - t1, teardown: performance.now() - t2 };
    } catch (err) {
      await removePodsQuietly(cri, [podSandboxId]);
      throw err;
    }
  };
  try {
    progress('warm-up: one pod of each (builds the VM template)');
    await onePod('runc', 'warm-runc');
    await onePod('mayu', 'warm-mayu');
    await ctrd.settle();
    for (let i = 0; i < runs; i++) {
      for (const kind of i % 2 === 0 ? (['runc', 'mayu'] as const) : (['mayu', 'runc'] as const)) {
        const r = await onePod(kind, `${kind}-${i}`);
        ms.start[kind].push(r.pod + r.container);
        ms.pod[kind].push(r.pod);
        ms.container[kind].push(r.container);
        ms.teardown[kind].push(r.teardown);
        await ctrd.settle();
      }
      progress(`pod ${i + 1}/${runs}: mayu ${ms.start.mayu.at(-1)?.toFixed(0)} ms, runc ${ms.start.runc.at(-1)?.toFixed(0)} ms`);
    }
    const both = (x: { mayu: number[]; runc: number[] }): { mayu: Summary; runc: Summary } => ({ mayu: summarize(x.mayu), runc: summarize(x.runc) });
    const start = both(ms.start);
    return { runs, start: { ...start, ratio: start.mayu.median / start.runc.median }, runPodSandbox: both(ms.pod), container: both(ms.container), teardown: both(ms.teardown) };
  } finally {
    await installed.stop();
  }
}
