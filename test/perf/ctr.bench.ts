import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_IMAGE, MAYU_RUNTIME } from '../helpers/containerd.js';
import { startInstalledContainerd } from './installed-containerd.js';
import { progress, pssKib, summarize, type Summary } from './stats.js';

/** The phases of one `ctr run --rm … true` with mayu, from the shim's log (ms). */
export interface CtrRunPhases {
  /** ctr start → the shim serving (ctr, containerd, snapshot, shim start). */
  shimStart: number;
  /** shim serving → VM booted (QEMU, guest kernel, agent answering, sandbox set up). */
  vmBoot: number;
  /** VM booted → container started (rootfs shared, crun create and start). */
  containerStart: number;
  /** container started → its exit reported. */
  run: number;
  /** exit → ctr done (delete, VM power-off, shim exit). */
  teardown: number;
}

export interface CtrRunBench {
  runs: number;
  mayu: Summary;
  runc: Summary;
  ratio: number;
  phases: Record<keyof CtrRunPhases, Summary>;
  shimPssMib: Summary;
  qemuPssMib: Summary;
  /** `ctr task exec` of `true` into a running container. */
  exec: { mayu: Summary; runc: Summary; ratio: number };
}

const pssMib = (pid: number | undefined): number => (pid ? pssKib(pid) / 1024 : NaN);

/** The shim's log lines (pino JSON, copied into containerd's log) for one task. */
function shimEvents(log: string, id: string): Map<string, number> {
  const at = new Map<string, number>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes(`"sandboxId":"${id}"`)) continue;
    const e = JSON.parse(line) as { event?: string; time: number };
    if (e.event && !at.has(e.event)) at.set(e.event, e.time);
  }
  return at;
}

function phasesOf(events: Map<string, number>, startedAt: number, endedAt: number): CtrRunPhases {
  const t = (name: string): number => {
    const v = events.get(name);
    if (v === undefined) throw new Error(`the shim log has no ${name} event`);
    return v;
  };
  return {
    shimStart: t('shim.ready') - startedAt,
    vmBoot: t('vm.booted') - t('shim.ready'),
    containerStart: t('task.started') - t('vm.booted'),
    run: t('task.exited') - t('task.started'),
    teardown: endedAt - t('task.exited'),
  };
}

/**
 * `ctr run --rm` of `true` on the same locally built image with runc and with
 * mayu, alternating, through one private containerd; mayu's time split into
 * its phases; and the memory a pod costs on the host (shim and QEMU PSS with
 * a container running). `runArgs` go to every `ctr run` of both (e.g.
 * `--memory-limit`: the VM is sized for it).
 */
export async function ctrRunBench(runs: number, runArgs: string[] = []): Promise<CtrRunBench> {
  const installed = await startInstalledContainerd();
  const { ctrd } = installed;
  const logFile = join(ctrd.dir, 'containerd.log');
  const run = async (runtime: string, id: string, args: string[] = ['true']): Promise<number> => {
    const t0 = Date.now();
    const extra = runtime === MAYU_RUNTIME ? ['--runtime-config-path', ctrd.mayuConfig] : [];
    const r = await ctrd.ctr(['run', '--rm', '--runtime', runtime, ...extra, ...runArgs, EXAMPLE_IMAGE, id, ...args]);
    if (r.code !== 0) throw new Error(`ctr run ${id} (${runtime}) exited ${r.code}: ${r.stderr}`);
    return Date.now() - t0;
  };
  try {
    progress('warm-up: one run of each');
    await run('io.containerd.runc.v2', 'warm-runc');
    await run(MAYU_RUNTIME, 'warm-mayu');
    const mayu: number[] = [];
    const runc: number[] = [];
    const phases: CtrRunPhases[] = [];
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? ['runc', 'mayu'] : ['mayu', 'runc'];
      for (const which of order) {
        if (which === 'runc') runc.push(await run('io.containerd.runc.v2', `runc-${i}`));
        else {
          const id = `mayu-${i}`;
          const t0 = Date.now();
          const ms = await run(MAYU_RUNTIME, id);
          mayu.push(ms);
          phases.push(phasesOf(shimEvents(readFileSync(logFile, 'utf8'), id), t0, t0 + ms));
        }
      }
      progress(`run ${i + 1}/${runs}: mayu ${mayu.at(-1)} ms, runc ${runc.at(-1)} ms`);
    }
    progress('ctr task exec into a running container of each');
    const execMs = { mayu: [] as number[], runc: [] as number[] };
    for (const [which, runtime] of [
      ['mayu', MAYU_RUNTIME],
      ['runc', 'io.containerd.runc.v2'],
    ] as const) {
      const extra = which === 'mayu' ? ['--runtime-config-path', ctrd.mayuConfig] : [];
      const r = await ctrd.ctr(['run', '-d', '--runtime', runtime, ...extra, EXAMPLE_IMAGE, `exec-${which}`, 'sleep', '600']);
      if (r.code !== 0) throw new Error(`ctr run -d exec-${which}: ${r.stderr}`);
    }
    for (let i = 0; i < runs + 1; i++) {
      for (const which of i % 2 === 0 ? (['runc', 'mayu'] as const) : (['mayu', 'runc'] as const)) {
        const t0 = Date.now();
        const r = await ctrd.ctr(['task', 'exec', '--exec-id', `x${i}`, `exec-${which}`, 'true']);
        if (r.code !== 0) throw new Error(`ctr task exec into exec-${which} exited ${r.code}: ${r.stderr}`);
        if (i > 0) execMs[which].push(Date.now() - t0); // the first of each warms up
      }
    }
    for (const which of ['mayu', 'runc']) {
      await ctrd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', `exec-${which}`]);
      await ctrd.ctr(['tasks', 'rm', '--force', `exec-${which}`]);
      await ctrd.ctr(['containers', 'rm', `exec-${which}`]);
    }
    await ctrd.settle();
    const shimPss: number[] = [];
    const qemuPss: number[] = [];
    for (let i = 0; i < Math.min(runs, 3); i++) {
      const id = `rss-${i}`;
      const r = await ctrd.ctr(['run', '-d', '--runtime', MAYU_RUNTIME, '--runtime-config-path', ctrd.mayuConfig, ...runArgs, EXAMPLE_IMAGE, id, 'sleep', '600']);
      if (r.code !== 0) throw new Error(`ctr run -d ${id}: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 1000));
      shimPss.push(pssMib(ctrd.shims()[0]));
      qemuPss.push(pssMib(ctrd.vms()[0]));
      await ctrd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
      await ctrd.ctr(['tasks', 'rm', '--force', id]);
      await ctrd.ctr(['containers', 'rm', id]);
      await ctrd.settle();
      progress(`pod memory ${i + 1}: shim ${shimPss.at(-1)?.toFixed(0)} MiB, QEMU ${qemuPss.at(-1)?.toFixed(0)} MiB`);
    }
    const m = summarize(mayu);
    const rc = summarize(runc);
    const keys: (keyof CtrRunPhases)[] = ['shimStart', 'vmBoot', 'containerStart', 'run', 'teardown'];
    return {
      runs,
      mayu: m,
      runc: rc,
      ratio: m.median / rc.median,
      phases: Object.fromEntries(keys.map((k) => [k, summarize(phases.map((p) => p[k]))])) as Record<keyof CtrRunPhases, Summary>,
      shimPssMib: summarize(shimPss),
      qemuPssMib: summarize(qemuPss),
      exec: { mayu: summarize(execMs.mayu), runc: summarize(execMs.runc), ratio: summarize(execMs.mayu).median / summarize(execMs.runc).median },
    };
  } finally {
    await installed.stop();
  }
}
