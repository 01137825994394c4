import { Sandbox, type BootTimings } from '@mayu/runtime';
import { GuestFactory, testLogger } from '../helpers/guest-factory.js';
import { RuncBundle } from './runc-baseline.js';
import { progress, rssKib, summarize, type Summary } from './stats.js';

const PHASES: (keyof BootTimings)[] = ['spawnMs', 'kernelStartMs', 'initStartMs', 'agentProcessStartMs', 'agentMainMs', 'agentListeningMs', 'firstRpcMs'];

export interface BootBenchResult {
  runs: number;
  accel: string;
  phases: Record<string, Summary>;
  shutdownMs: Summary;
  qemuRssMib: Summary;
  runcRunTrueMs: Summary;
  ratioFirstRpcToRunc: number;
  imageBytes: Record<string, number>;
}

/**
 * N boots of a sandbox (spawn to first RPC, phase by phase), its QEMU's RSS
 * and shutdown time, beside N `runc run` of `true` on the host.
 */
export async function bootBench(runs: number, toml = ''): Promise<BootBenchResult> {
  const vms = new GuestFactory();
  const runc = new RuncBundle(['/bin/true']);
  const samples: BootTimings[] = [];
  const shutdowns: number[] = [];
  const rss: number[] = [];
  const runcTimes: number[] = [];
  let accel = '';
  let imageBytes: Record<string, number> = {};
  try {
    for (let i = 0; i < runs; i++) {
      const sandbox = Sandbox.create({ id: `bench-${i}`, config: vms.config(toml), log: testLogger() });
      const report = await sandbox.start();
      accel = report.accel.accel;
      imageBytes = Object.fromEntries(Object.entries(sandbox.image.manifest.artifacts).map(([k, a]) => [k, a.bytes]));
      rss.push(rssKib(report.pid) / 1024);
      const t0 = performance.now();
      await sandbox.stop();
      shutdowns.push(performance.now() - t0);
      samples.push(report.timings);
      runcTimes.push(runc.run(`bench-${process.pid}-${i}`));
      progress(`boot ${i + 1}/${runs}: first rpc ${report.timings.firstRpcMs.toFixed(0)} ms, runc run true ${runcTimes[i]?.toFixed(0)} ms`);
    }
  } finally {
    runc.remove();
    await vms.cleanup();
  }
  const phases = Object.fromEntries(PHASES.map((p) => [p, summarize(samples.map((s) => s[p]))]));
  const runcRunTrueMs = summarize(runcTimes);
  return {
    runs,
    accel,
    phases,
    shutdownMs: summarize(shutdowns),
    qemuRssMib: summarize(rss),
    runcRunTrueMs,
    ratioFirstRpcToRunc: (phases.firstRpcMs?.median ?? NaN) / runcRunTrueMs.median,
    imageBytes,
  };
}

export function formatBootBench(r: BootBenchResult): string {
  const f = (s: Summary): string => `${s.median.toFixed(0).padStart(7)} ${s.min.toFixed(0).padStart(7)} ${s.max.toFixed(0).padStart(7)}`;
  const lines = [
    `boot benchmark: ${r.runs} boots, accel ${r.accel}`,
    `${'ms from QEMU spawn'.padEnd(24)} ${'median'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)}`,
    ...Object.entries(r.phases).map(([k, s]) => `${k.padEnd(24)} ${f(s)}`),
    `${'shutdown (stop)'.padEnd(24)} ${f(r.shutdownMs)}`,
    `${'QEMU RSS (MiB)'.padEnd(24)} ${f(r.qemuRssMib)}`,
    `${'runc run true (host)'.padEnd(24)} ${f(r.runcRunTrueMs)}`,
    `ratio first rpc / runc run true: ${r.ratioFirstRpcToRunc.toFixed(1)}x`,
    `image sizes: ${Object.entries(r.imageBytes)
      .map(([k, b]) => `${k} ${(b / 1048576).toFixed(1)} MiB`)
      .join(', ')}`,
  ];
  return lines.join('\n');
}
