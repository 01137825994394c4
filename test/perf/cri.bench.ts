import { CriClient, podSandboxConfig, removePodsQuietly, startPodContainer } from '../helpers/cri-client.js';
import { startInstalledContainerd } from './installed-containerd.js';
import { progress, summarize, type Summary } from './stats.js';
import type { ContainerdVersion } from '../helpers/containerd.js';

/** Who starts the pods: runc, mayu with its pause container, and (containerd 2.x) mayu through the Sandbox API. */
export type CriHandler = 'runc' | 'mayu' | 'mayu-sandbox';

export interface CriHandlerBench {
  /** RunPodSandbox → StartContainer returned (one container), ms. */
  start: Summary;
  /** The same, split: RunPodSandbox alone, then CreateContainer + StartContainer. */
  runPodSandbox: Summary;
  container: Summary;
  /** StopPodSandbox + RemovePodSandbox, ms. */
  teardown: Summary;
  /** Median start over runc's. */
  ratio: number;
}

export interface CriBench {
  runs: number;
  containerd: ContainerdVersion;
  handlers: Partial<Record<CriHandler, CriHandlerBench>>;
}

/**
 * A kubelet's start of a one-container pod through CRI on one private
 * containerd of `version` with the installed shim (its CNI bridge network,
 * the pause image): RunPodSandbox, CreateContainer, StartContainer, with
 * runc, the mayu handler and, on containerd 2.x, the mayu-sandbox handler
 * (sandboxer = "shim": the Sandbox API, no pause container), in turn after
 * one warm-up pod of each (the first mayu pod builds the VM template); then
 * StopPodSandbox and RemovePodSandbox.
 */
export async function criBench(runs: number, version: ContainerdVersion = '1.6'): Promise<CriBench> {
  const installed = await startInstalledContainerd(version);
  const { ctrd } = installed;
  const cri = new CriClient(ctrd.address);
  const handlers: CriHandler[] = version === '2.1' ? ['runc', 'mayu', 'mayu-sandbox'] : ['runc', 'mayu'];
  const ms = Object.fromEntries(handlers.map((h) => [h, { start: [] as number[], pod: [] as number[], container: [] as number[], teardown: [] as number[] }])) as Record<
    CriHandler,
    { start: number[]; pod: number[]; container: number[]; teardown: number[] }
  >;
  const onePod = async (handler: CriHandler, name: string): Promise<{ pod: number; container: number; teardown: number }> => {
    const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`);
    const t0 = performance.now();
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: handler === 'runc' ? '' : handler });
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
    progress(`containerd ${version}: warm-up, one pod of each (builds the VM template)`);
    for (const h of handlers) await onePod(h, `warm-${h}`);
    await ctrd.settle();
    for (let i = 0; i < runs; i++) {
      // Each round in another order, so that no handler always follows the same one.
      const order = handlers.map((_, k) => handlers[(k + i) % handlers.length]);
      for (const h of order) {
        const r = await onePod(h, `${h}-${i}`);
        ms[h].start.push(r.pod + r.container);
        ms[h].pod.push(r.pod);
        ms[h].container.push(r.container);
        ms[h].teardown.push(r.teardown);
        await ctrd.settle();
      }
      progress(`containerd ${version}, pod ${i + 1}/${runs}: ${handlers.map((h) => `${h} ${ms[h].start.at(-1)?.toFixed(0)} ms`).join(', ')}`);
    }
    const runc = summarize(ms.runc.start).median;
    const out: CriBench['handlers'] = {};
    for (const h of handlers) {
      const start = summarize(ms[h].start);
      out[h] = { start, runPodSandbox: summarize(ms[h].pod), container: summarize(ms[h].container), teardown: summarize(ms[h].teardown), ratio: start.median / runc };
    }
    return { runs, containerd: version, handlers: out };
  } finally {
    await installed.stop();
  }
}
