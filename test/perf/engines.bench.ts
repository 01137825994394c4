import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mayuRuntimeFor, PrivateDocker, PrivatePodman } from '../helpers/engines.js';
import { GuestFactory } from '../helpers/guest-factory.js';
import { stageInstall } from './installed-containerd.js';
import { testImage } from '../helpers/test-image.js';
import { progress, summarize, type Summary } from './stats.js';

/** One engine's `run --rm IMAGE true` per runtime: its times, or why it does not run here. */
export type EngineRow = Record<string, { ms: Summary } | { fails: string }>;

/** Where one `run --rm … true` through mayu-runtime spends its time, from the engine's calls to it (ms). */
export interface RuntimePhases {
  /** engine start → mayu-runtime create called (image, storage, conmon or the runc shim). */
  beforeCreate: number;
  /** create: VM boot, container created in the guest, holder ready. */
  create: number;
  /** create done → start called (the engine's bookkeeping). */
  betweenCreateAndStart: number;
  start: number;
  /** start done → delete called: `true` runs, the holder powers the VM off and exits, the engine sees it. */
  runAndExit: number;
  delete: number;
  /** delete done → the engine's command ends. */
  afterDelete: number;
}

export interface EnginesBench {
  runs: number;
  docker: EngineRow;
  podman: EngineRow;
  /** mayu over runc, by engine (medians). */
  ratios: { docker: number; podman: number };
  phases: { docker: Record<keyof RuntimePhases, Summary>; podman: Record<keyof RuntimePhases, Summary> };
}

/** The runtime calls logged since `from` (a line count), as [ms, begin|end, command]. */
function callsSince(log: string, from: number): [number, string, string][] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .slice(from)
    .filter(Boolean)
    .map((l) => {
      const [ns, edge, ...args] = l.split(' ');
      const command = args.find((a) => ['create', 'start', 'delete', 'state', 'kill'].includes(a)) ?? args.join(' ');
      return [Number(ns) / 1e6, edge, command];
    });
}

function phasesOf(calls: [number, string, string][], t0: number, t1: number): RuntimePhases {
  const at = (edge: string, command: string): number => {
    const c = calls.find(([, e, cmd]) => e === edge && cmd === command);
    if (!c) throw new Error(`no ${edge} of ${command} in the runtime's calls: ${JSON.stringify(calls)}`);
    return c[0];
  };
  return {
    beforeCreate: at('begin', 'create') - t0,
    create: at('end', 'create') - at('begin', 'create'),
    betweenCreateAndStart: at('begin', 'start') - at('end', 'create'),
    start: at('end', 'start') - at('begin', 'start'),
    runAndExit: at('begin', 'delete') - at('end', 'start'),
    delete: at('end', 'delete') - at('begin', 'delete'),
    afterDelete: t1 - at('end', 'delete'),
  };
}

const PHASES: (keyof RuntimePhases)[] = ['beforeCreate', 'create', 'betweenCreateAndStart', 'start', 'runAndExit', 'delete', 'afterDelete'];

function summarizePhases(all: RuntimePhases[]): Record<keyof RuntimePhases, Summary> {
  return Object.fromEntries(PHASES.map((k) => [k, summarize(all.map((p) => p[k]))])) as Record<keyof RuntimePhases, Summary>;
}

/**
 * The talk's table, today: `docker run --rm IMAGE true` and `podman run --rm
 * IMAGE true` with runc, crun and mayu (mayu-runtime), alternating, in one
 * run; and where mayu-runtime's time goes, split by the engine's calls to it.
 */
export async function enginesBench(runs: number): Promise<EnginesBench> {
  const vms = new GuestFactory();
  const log = join(vms.stateRoot, 'runtime-calls.log');
  // The installed mayu-runtime (one bundled file, as engines run it in production), not the repository's module tree.
  const installRoot = join(vms.stateRoot, 'install');
  try {
    stageInstall(installRoot);
  } catch (err) {
    await vms.cleanup();
    throw err;
  }
  const bin = mayuRuntimeFor(vms.stateRoot, vms.configFile(), log, join(installRoot, 'usr/local/bin/mayu-runtime'));
  const { archive, dockerArchive } = await testImage();
  const podman = new PrivatePodman(join(vms.stateRoot, 'podman'), bin);
  const docker = new PrivateDocker(join(vms.stateRoot, 'docker'), { mayu: bin, crun: '/usr/bin/crun' });
  try {
    progress('starting a private dockerd; loading the image into docker and podman');
    await docker.start();
    for (const [engine, r] of [
      ['docker', await docker.run(['load', '-i', dockerArchive])],
      ['podman', await podman.run(['load', '-i', archive])],
    ] as const) {
      if (r.code !== 0) throw new Error(`${engine} load: ${r.stderr}`);
    }
    const engines = {
      docker: (runtime: string) => docker.run(['run', '--rm', '--runtime', runtime, '--network', 'none', 'mayu-example', 'true']),
      // Explicit limits, for every runtime alike: podman's defaults (nofile 1048576, nproc from the host) are above this host's hard limits, which runc and crun may not raise (mayu sets them in the guest).
      podman: (runtime: string) => podman.run(['--runtime', runtime, 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--network', 'none', 'mayu-example', 'true']),
    };
    const runtimes = ['runc', 'crun', 'mayu'];
    const times: Record<string, Record<string, number[]>> = { docker: {}, podman: {} };
    const fails: Record<string, Record<string, string>> = { docker: {}, podman: {} };
    const phases: Record<string, RuntimePhases[]> = { docker: [], podman: [] };
    for (const [engine, go] of Object.entries(engines)) {
      for (const rt of runtimes) {
        progress(`warm-up: ${engine} run --rm --runtime ${rt} … true`);
        const r = await go(rt);
        if (r.code !== 0) fails[engine][rt] = r.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${r.code}`;
      }
    }
    for (let i = 0; i < runs; i++) {
      for (const [engine, go] of Object.entries(engines)) {
        for (const rt of runtimes.filter((r) => !fails[engine][r])) {
          progress(`run ${i + 1}/${runs}: ${engine} --runtime ${rt}`);
          const from = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
          const t0 = Date.now();
          const r = await go(rt);
          const t1 = Date.now();
          if (r.code !== 0) throw new Error(`${engine} run --runtime ${rt} exited ${r.code}: ${r.stderr}`);
          (times[engine][rt] ??= []).push(t1 - t0);
          if (rt === 'mayu') phases[engine].push(phasesOf(callsSince(log, from), t0, t1));
        }
      }
    }
    const row = (engine: string): EngineRow => Object.fromEntries(runtimes.map((rt) => [rt, fails[engine][rt] ? { fails: fails[engine][rt] } : { ms: summarize(times[engine][rt] ?? []) }]));
    const ratio = (e: EngineRow): number => {
      const m = e.mayu;
      const r = e.runc;
      return m && 'ms' in m && r && 'ms' in r ? m.ms.median / r.ms.median : NaN;
    };
    const docker_ = row('docker');
    const podman_ = row('podman');
    return {
      runs,
      docker: docker_,
      podman: podman_,
      ratios: { docker: ratio(docker_), podman: ratio(podman_) },
      phases: { docker: summarizePhases(phases.docker ?? []), podman: summarizePhases(phases.podman ?? []) },
    };
  } finally {
    await docker.cleanup();
    await podman.cleanup();
    await vms.cleanup();
  }
}
