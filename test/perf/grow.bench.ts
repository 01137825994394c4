import { Sandbox } from '@mayu/runtime';
import { GuestFactory, testLogger } from '../helpers/guest-factory.js';
import { RuncBundle } from './runc-baseline.js';
import { progress, pssKib, summarize, type Summary } from './stats.js';

export interface GrowBenchResult {
  runs: number;
  /** Sandbox.resize() from the default size by 1 GiB and 2 vCPUs: QEMU plugs, the guest onlines, the containers' cap follows. */
  growMs: Summary;
  /** QEMU's PSS, idle, before and after the growth: memory offered is not memory used. */
  pssBeforeMib: Summary;
  pssAfterMib: Summary;
  /** runc update of a running container's memory and CPU limits: the nearest thing runc does. */
  runcUpdateMs: Summary;
  ratio: number;
}

/**
 * Grows N idle sandboxes (templates off, so each boots at the default size)
 * by 1 GiB and 2 vCPUs, beside N `runc update --memory 1g --cpus 2` of a
 * running runc container, in turn.
 */
export async function growBench(runs: number, toml = ''): Promise<GrowBenchResult> {
  const vms = new GuestFactory();
  const runc = new RuncBundle(['/bin/sleep', '3600']);
  const runcId = `bench-grow-${process.pid}`;
  const grow: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  const runcTimes: number[] = [];
  try {
    runc.start(runcId);
    for (let i = 0; i < runs; i++) {
      const config = vms.config(`[factory]\ntemplate = false\n${toml}`);
      const sandbox = Sandbox.create({ id: `bench-grow-${i}`, config, log: testLogger(), growMemory: true });
      const report = await sandbox.start();
      try {
        before.push(pssKib(report.pid) / 1024);
        const base = sandbox.vmSize;
        const t = performance.now();
        const size = await sandbox.resize({ vcpus: base.vcpus + 2, memoryMib: base.memoryMib + 1024 });
        grow.push(performance.now() - t);
        if (size.memoryMib !== base.memoryMib + 1024 || size.vcpus !== base.vcpus + 2) throw new Error(`run ${i}: grew to ${JSON.stringify(size)}`);
        await new Promise((r) => setTimeout(r, 1000));
        after.push(pssKib(report.pid) / 1024);
      } finally {
        await sandbox.stop();
      }
      const limit = i % 2 === 0 ? ['--memory', '1g', '--cpu-quota', '200000', '--cpu-period', '100000'] : ['--memory', '512m', '--cpu-quota', '100000', '--cpu-period', '100000'];
      runcTimes.push(runc.update(runcId, limit));
      progress(`grow ${i + 1}/${runs}: ${grow[i]?.toFixed(0)} ms, QEMU PSS ${before[i]?.toFixed(0)} → ${after[i]?.toFixed(0)} MiB; runc update ${runcTimes[i]?.toFixed(0)} ms`);
    }
  } finally {
    runc.kill(runcId);
    runc.remove();
    await vms.cleanup();
  }
  const growMs = summarize(grow);
  const runcUpdateMs = summarize(runcTimes);
  return { runs, growMs, pssBeforeMib: summarize(before), pssAfterMib: summarize(after), runcUpdateMs, ratio: growMs.median / runcUpdateMs.median };
}

export function formatGrowBench(r: GrowBenchResult): string {
  const f = (s: Summary): string => `${s.median.toFixed(0).padStart(7)} ${s.min.toFixed(0).padStart(7)} ${s.max.toFixed(0).padStart(7)}`;
  return [
    `grow benchmark: ${r.runs} idle VMs grown by 1 GiB and 2 vCPUs`,
    `${''.padEnd(30)} ${'median'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)}`,
    `${'grow (ms)'.padEnd(30)} ${f(r.growMs)}`,
    `${'QEMU PSS before (MiB)'.padEnd(30)} ${f(r.pssBeforeMib)}`,
    `${'QEMU PSS after, idle (MiB)'.padEnd(30)} ${f(r.pssAfterMib)}`,
    `${'runc update (ms)'.padEnd(30)} ${f(r.runcUpdateMs)}`,
    `ratio grow / runc update (medians): ${r.ratio.toFixed(1)}x`,
  ].join('\n');
}
