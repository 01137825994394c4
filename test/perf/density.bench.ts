import { readdirSync, readFileSync } from 'node:fs';
import { EXAMPLE_IMAGE, MAYU_RUNTIME } from '../helpers/containerd.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { startInstalledContainerd } from './installed-containerd.js';
import { progress, pssKib, summarize, type Summary } from './stats.js';

/** Host memory of N idle pods of one runtime (PSS, MiB). */
export interface DensityPoint {
  pods: number;
  /** Every process the pods cost, summed, divided by N. */
  perPodMib: number;
  /** mayu: the shims' share; runc: the shims'. */
  shimMibPerPod: number;
  /** mayu: QEMU's share; runc: the container processes'. */
  vmMibPerPod: number;
  /** mayu: the VM template's RAM file (tmpfs, in no process's PSS) divided among the pods. */
  templateMibPerPod: number;
}

export interface DensityBench {
  counts: number[];
  mayu: DensityPoint[];
  runc: DensityPoint[];
  /** Seconds each `ctr run -d` took, pod after pod up to the largest count. */
  startSeconds: { mayu: Summary; runc: Summary };
  /** Pods started per minute, back to back, from the median start time. */
  podsPerMinute: { mayu: number; runc: number };
  /** The host's available memory before and with the most pods running (MiB). */
  hostAvailableMib: { before: number; atMost: number };
}

const mib = (kib: number): number => kib / 1024;
const sumPss = (pids: number[]): number => pids.reduce((n, pid) => n + (Number.isFinite(pssKib(pid)) ? pssKib(pid) : 0), 0);
const availableMib = (): number => mib(Number(/^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN));

/** The processes whose parent is one of `parents`. */
function childrenOf(parents: number[]): number[] {
  const set = new Set(parents);
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((e) => {
      try {
        const ppid = Number(readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
        return set.has(ppid) ? [Number(e)] : [];
      } catch {
        return [];
      }
    });
}

/**
 * Idle pods on one host: for each count N, N containers (`sleep`) started
 * with `ctr run -d` through one private containerd with mayu, then with
 * runc; the proportional set size of everything they cost (mayu: shims and
 * QEMU, plus the template's RAM file; runc: shims and the container
 * processes) divided by N. The start
 * times of the pods give pods per minute on this machine.
 */
export async function densityBench(counts: number[]): Promise<DensityBench> {
  const installed = await startInstalledContainerd();
  const { ctrd } = installed;
  const runcShims = (): number[] =>
    processesMentioning(ctrd.address)
      .filter((p) => p.cmdline.includes('containerd-shim-runc-v2'))
      .map((p) => p.pid);
  const start = async (runtime: string, id: string): Promise<number> => {
    const extra = runtime === MAYU_RUNTIME ? ['--runtime-config-path', ctrd.mayuConfig] : [];
    const t0 = Date.now();
    const r = await ctrd.ctr(['run', '-d', '--runtime', runtime, ...extra, EXAMPLE_IMAGE, id, 'sleep', '3600']);
    if (r.code !== 0) throw new Error(`ctr run -d ${id} (${runtime}) exited ${r.code}: ${r.stderr}`);
    return (Date.now() - t0) / 1000;
  };
  const removeAll = async (ids: string[]): Promise<void> => {
    for (const id of ids) {
      await ctrd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
      await ctrd.ctr(['tasks', 'rm', '--force', id]);
      await ctrd.ctr(['containers', 'rm', id]);
    }
    await ctrd.settle(30_000);
  };
  const before = availableMib();
  let atMost = before;
  const result: Omit<DensityBench, 'startSeconds' | 'podsPerMinute' | 'hostAvailableMib'> = { counts, mayu: [], runc: [] };
  const starts = { mayu: [] as number[], runc: [] as number[] };
  try {
    progress('warm-up: one pod of each (builds the VM template)');
    await start('io.containerd.runc.v2', 'warm-runc');
    await start(MAYU_RUNTIME, 'warm-mayu');
    await removeAll(['warm-runc', 'warm-mayu']);
    const max = Math.max(...counts);
    for (const which of ['mayu', 'runc'] as const) {
      const runtime = which === 'mayu' ? MAYU_RUNTIME : 'io.containerd.runc.v2';
      const ids: string[] = [];
      try {
        for (let n = 1; n <= max; n++) {
          const id = `${which}-${n}`;
          starts[which].push(await start(runtime, id));
          ids.push(id);
          if (!counts.includes(n)) continue;
          await new Promise((r) => setTimeout(r, 2000)); // idle: start-up work done
          const shims = which === 'mayu' ? ctrd.shims() : runcShims();
          const others = which === 'mayu' ? ctrd.vms() : childrenOf(shims);
          const shim = mib(sumPss(shims));
          const vm = mib(sumPss(others));
          const template = which === 'mayu' ? installed.templateResidentMib() : 0;
          result[which].push({ pods: n, perPodMib: (shim + vm + template) / n, shimMibPerPod: shim / n, vmMibPerPod: vm / n, templateMibPerPod: template / n });
          atMost = Math.min(atMost, availableMib());
          progress(
            `${which}: ${n} pods, ${((shim + vm + template) / n).toFixed(0)} MiB per pod (shim ${(shim / n).toFixed(0)}, ${which === 'mayu' ? 'QEMU' : 'container'} ${(vm / n).toFixed(0)}, template ${(template / n).toFixed(0)})`,
          );
        }
      } finally {
        await removeAll(ids);
      }
    }
    const s = { mayu: summarize(starts.mayu), runc: summarize(starts.runc) };
    return { ...result, startSeconds: s, podsPerMinute: { mayu: 60 / s.mayu.median, runc: 60 / s.runc.median }, hostAvailableMib: { before, atMost } };
  } finally {
    await installed.stop();
  }
}
