import { Sandbox, type BootTimings } from '@mayu/runtime';
import { GuestFactory, testLogger } from '../helpers/guest-factory.js';
import { RuncBundle } from './runc-baseline.js';
import { progress, pssKib, rssKib, summarize, type Summary } from './stats.js';

const PHASES: Exclude<keyof BootTimings, 'restored'>[] = ['spawnMs', 'kernelStartMs', 'initStartMs', 'agentProcessStartMs', 'agentMainMs', 'agentListeningMs', 'firstRpcMs'];

export interface BootBenchResult {
  runs: number;
  accel: string;
  /** Clones of a template (built before the first run, not counted), or cold boots. */
  mode: 'cold' | 'clone';
  phases: Record<string, Summary>;
  /** Sandbox.start() as a whole: the VM, the agent, the clone's identity, CreateSandbox. */
  startMs: Summary;
  shutdownMs: Summary;
  qemuRssMib: Summary;
  qemuPssMib: Summary;
  runcRunTrueMs: Summary;
  ratioFirstRpcToRunc: number;
  imageBytes: Record<string, number>;
}

/**
 * N boots of a sandbox (spawn to first RPC, phase by phase), its QEMU's RSS
 * and PSS and shutdown time, beside N `runc run` of `true` on the host.
 * `cold`: templates off. `clone`: a template is built first (not counted),
 * then each sandbox is a clone of it.
 */
export async function bootBench(runs: number, toml = '', mode: 'cold' | 'clone' = 'cold'): Promise<BootBenchResult> {
  const vms = new GuestFactory();
  const templateDir = `${vms.stateRoot}/templates`;
  const factory = mode === 'cold' ? '[factory]\ntemplate = false' : `[factory]\ntemplate = true\ntemplate_dir = "${templateDir}"`;
  const config = (): ReturnType<GuestFactory['config']> => vms.config(`${factory}\n${toml}`);
  const runc = new RuncBundle(['/bin/true']);
  const samples: BootTimings[] = [];
  const starts: number[] = [];
  const shutdowns: number[] = [];
  const rss: number[] = [];
  const pss: number[] = [];
  const runcTimes: number[] = [];
  let accel = '';
  let imageBytes: Record<string, number> = {};
  try {
    if (mode === 'clone') {
      const first = Sandbox.create({ id: 'bench-template', config: config(), log: testLogger() });
      progress(`building the template (${(await first.template())?.manifest.key ?? 'none'})`);
      await first.destroy();
    }
    for (let i = 0; i < runs; i++) {
      const sandbox = Sandbox.create({ id: `bench-${i}`, config: config(), log: testLogger() });
      const t = performance.now();
      const report = await sandbox.start();
      starts.push(performance.now() - t);
      if (report.timings.restored !== (mode === 'clone')) throw new Error(`run ${i}: restored ${report.timings.restored} in ${mode} mode`);
      accel = report.accel.accel;
      imageBytes = Object.fromEntries(Object.entries(sandbox.image.manifest.artifacts).map(([k, a]) => [k, a.bytes]));
      rss.push(rssKib(report.pid) / 1024);
      pss.push(pssKib(report.pid) / 1024);
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
  // A clone's guest milestones are its template's (null): only what was measured is summarized.
  const phases = Object.fromEntries(PHASES.map((p) => [p, summarize(samples.map((s) => s[p]).filter((v): v is number => v !== null))]).filter(([, s]) => (s as Summary).n > 0));
  const runcRunTrueMs = summarize(runcTimes);
  return {
    runs,
    accel,
    mode,
    phases,
    startMs: summarize(starts),
    shutdownMs: summarize(shutdowns),
    qemuRssMib: summarize(rss),
    qemuPssMib: summarize(pss),
    runcRunTrueMs,
    ratioFirstRpcToRunc: (phases.firstRpcMs?.median ?? NaN) / runcRunTrueMs.median,
    imageBytes,
  };
}

export function formatBootBench(r: BootBenchResult): string {
  const f = (s: Summary): string => `${s.median.toFixed(0).padStart(7)} ${s.min.toFixed(0).padStart(7)} ${s.max.toFixed(0).padStart(7)}`;
  const lines = [
    `boot benchmark: ${r.runs} ${r.mode === 'clone' ? 'clones of a template' : 'cold boots'}, accel ${r.accel}`,
    `${'ms from QEMU spawn'.padEnd(24)} ${'median'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)}`,
    ...Object.entries(r.phases).map(([k, s]) => `${k.padEnd(24)} ${f(s)}`),
    `${'sandbox start (whole)'.padEnd(24)} ${f(r.startMs)}`,
    `${'shutdown (stop)'.padEnd(24)} ${f(r.shutdownMs)}`,
    `${'QEMU RSS (MiB)'.padEnd(24)} ${f(r.qemuRssMib)}`,
    `${'QEMU PSS (MiB)'.padEnd(24)} ${f(r.qemuPssMib)}`,
    `${'runc run true (host)'.padEnd(24)} ${f(r.runcRunTrueMs)}`,
    `ratio first rpc / runc run true: ${r.ratioFirstRpcToRunc.toFixed(1)}x`,
    `image sizes: ${Object.entries(r.imageBytes)
      .map(([k, b]) => `${k} ${(b / 1048576).toFixed(1)} MiB`)
      .join(', ')}`,
  ];
  return lines.join('\n');
}
