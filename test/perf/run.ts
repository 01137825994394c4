import { parseArgs } from 'node:util';
import { bootBench, formatBootBench } from './boot.bench.js';
import { agentRssBench, execBench, readBench, runTrueBench, type Comparison } from './containers.bench.js';
import { criBench, type CriHandler } from './cri.bench.js';
import { CONTAINERD_VERSIONS, type ContainerdVersion } from '../helpers/containerd.js';
import { ctrRunBench } from './ctr.bench.js';
import { densityBench } from './density.bench.js';
import { enginesBench, type EngineRow } from './engines.bench.js';
import { formatGrowBench, growBench } from './grow.bench.js';
import { netBench } from './net.bench.js';
import { portForwardBench } from './portforward.bench.js';
import { stdioBench } from './stdio.bench.js';
import type { Summary } from './stats.js';

const BENCHMARKS = ['boot', 'clone', 'run', 'exec', 'read', 'agent-rss', 'ctr', 'cri', 'density', 'net', 'portforward', 'stdio', 'engines', 'grow', 'ctr-1g'] as const;
type Name = (typeof BENCHMARKS)[number];

const row = (label: string, s: Summary, unit = 'ms'): string => `${label.padEnd(30)} ${s.median.toFixed(1).padStart(9)} ${s.min.toFixed(1).padStart(9)} ${s.max.toFixed(1).padStart(9)}  ${unit}`;
const header = `${''.padEnd(30)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}`;
const comparison = (title: string, c: Comparison, mayuLabel = 'mayu', runcLabel = 'runc', unit = 'ms'): string =>
  [title, header, row(mayuLabel, c.mayu, unit), row(runcLabel, c.runc, unit), `ratio mayu / runc (medians): ${c.ratio.toFixed(2)}x`].join('\n');

async function bench(name: Name, runs: number, toml: string, pods: number[], containerd: ContainerdVersion[]): Promise<{ text: string; json: unknown }> {
  switch (name) {
    case 'boot': {
      const r = await bootBench(runs, toml, 'cold');
      return { text: formatBootBench(r), json: r };
    }
    case 'grow': {
      const r = await growBench(runs, toml);
      return { text: formatGrowBench(r), json: r };
    }
    case 'clone': {
      const r = await bootBench(runs, toml, 'clone');
      return { text: formatBootBench(r), json: r };
    }
    case 'run': {
      const r = await runTrueBench(runs);
      return { text: comparison(`cold run of true, ${runs} runs each, alternating`, r, 'mayu run --rm ... true', 'runc run (true)'), json: r };
    }
    case 'exec': {
      const r = await execBench(runs);
      return {
        text: [
          comparison(`exec of true into a running container, ${runs} runs`, r.cli, 'mayu exec (CLI)', 'runc exec'),
          `agent API exec+wait (no CLI start-up): median ${r.api.mayu.median.toFixed(1)} ms, ratio to runc exec ${r.api.ratio.toFixed(2)}x`,
        ].join('\n'),
        json: r,
      };
    }
    case 'read': {
      const r = await readBench(runs);
      return {
        text: [
          `sequential read of a 256 MiB file from the rootfs, ${runs} runs`,
          header,
          ...Object.entries(r.mibPerSec).map(([k, s]) => row(k, s, 'MiB/s')),
          `percent of the host: ${Object.entries(r.percentOfHost)
            .map(([k, p]) => `${k} ${p.toFixed(0)} %`)
            .join(', ')}`,
        ].join('\n'),
        json: r,
      };
    }
    case 'ctr':
    case 'ctr-1g': {
      // ctr-1g: every container limited to 1 GiB (ctr run --memory-limit): mayu's VM is sized for it.
      const r = await ctrRunBench(runs, name === 'ctr-1g' ? ['--memory-limit', String(2 ** 30)] : []);
      const phases: [string, keyof typeof r.phases][] = [
        ['  shim start (ctr -> shim serving)', 'shimStart'],
        ['  VM boot (-> agent, sandbox)', 'vmBoot'],
        ['  container create + start', 'containerStart'],
        ['  true runs, exit reported', 'run'],
        ['  teardown (delete, VM off)', 'teardown'],
      ];
      return {
        text: [
          comparison(
            `ctr run --rm${name === 'ctr-1g' ? ' --memory-limit 1 GiB' : ''} of true through containerd, ${runs} runs each, alternating`,
            r,
            'mayu (io.containerd.mayu.v2)',
            'runc (io.containerd.runc.v2)',
          ),
          "where mayu's time goes",
          header,
          ...phases.map(([label, k]) => row(label, r.phases[k])),
          row('shim PSS (container running)', r.shimPssMib, 'MiB'),
          row('QEMU PSS (container running)', r.qemuPssMib, 'MiB'),
          '',
          comparison(`ctr task exec of true into a running container, ${runs} runs each, alternating`, r.exec),
        ].join('\n'),
        json: r,
      };
    }
    case 'cri': {
      const results = [];
      for (const version of containerd) results.push(await criBench(runs, version));
      const label: Record<CriHandler, string> = { runc: 'runc', mayu: 'mayu (pause container)', 'mayu-sandbox': 'mayu (Sandbox API)' };
      return {
        text: results
          .map((r) =>
            [
              `CRI RunPodSandbox -> StartContainer (one container, CNI network) on containerd ${r.containerd}, ${runs} pods each, in turn`,
              header,
              ...Object.entries(r.handlers).flatMap(([h, b]) => [
                row(`${label[h as CriHandler]}`, b.start),
                row('  RunPodSandbox', b.runPodSandbox),
                row('  Create+StartContainer', b.container),
                row('  Stop+RemovePodSandbox', b.teardown),
              ]),
              `ratio to runc (medians): ${Object.entries(r.handlers)
                .filter(([h]) => h !== 'runc')
                .map(([h, b]) => `${label[h as CriHandler]} ${b.ratio.toFixed(1)}x`)
                .join(', ')}`,
            ].join('\n'),
          )
          .join('\n\n'),
        json: results,
      };
    }
    case 'density': {
      const r = await densityBench(pods);
      const point = (label: string, p: { pods: number; perPodMib: number; shimMibPerPod: number; vmMibPerPod: number; templateMibPerPod: number }, vm: string): string =>
        `${label.padEnd(6)} ${String(p.pods).padStart(4)} pods  ${p.perPodMib.toFixed(1).padStart(7)} MiB per pod  (shim ${p.shimMibPerPod.toFixed(1)}, ${vm} ${p.vmMibPerPod.toFixed(1)}${label === 'mayu' ? `, template RAM ${p.templateMibPerPod.toFixed(1)}` : ''})`;
      return {
        text: [
          `idle pods (ctr run -d ... sleep), PSS of everything a pod costs on the host`,
          ...r.mayu.map((p) => point('mayu', p, 'QEMU')),
          ...r.runc.map((p) => point('runc', p, 'container')),
          ...r.mayu.map((p, i) => `ratio at ${p.pods} pods: ${(p.perPodMib / (r.runc[i]?.perPodMib ?? NaN)).toFixed(1)}x`),
          header,
          row('mayu: ctr run -d, pod after pod', r.startSeconds.mayu, 's'),
          row('runc: ctr run -d, pod after pod', r.startSeconds.runc, 's'),
          `pods started per minute, back to back: mayu ${r.podsPerMinute.mayu.toFixed(0)}, runc ${r.podsPerMinute.runc.toFixed(0)}`,
          `host memory available: ${r.hostAvailableMib.before.toFixed(0)} MiB before, ${r.hostAvailableMib.atMost.toFixed(0)} MiB at most pods`,
        ].join('\n'),
        json: r,
      };
    }
    case 'net': {
      const r = await netBench(runs);
      return {
        text: [
          `pod to pod on one CNI bridge, ${runs} rounds`,
          header,
          row('mayu: HTTP request round trip', r.rtt.mayu),
          row('runc: HTTP request round trip', r.rtt.runc),
          `ratio mayu / runc (medians): ${r.rtt.ratio.toFixed(2)}x`,
          row('mayu: 32 MiB over TCP', r.throughput.mayu, 'MiB/s'),
          row('runc: 32 MiB over TCP', r.throughput.runc, 'MiB/s'),
          `ratio mayu / runc (medians): ${r.throughput.ratio.toFixed(2)}x`,
          "what networking adds to a mayu pod's start",
          row('  host: scan, taps, tc filters', r.start.attach),
          row('  guest: interfaces, routes', r.start.configure),
        ].join('\n'),
        json: r,
      };
    }
    case 'portforward': {
      const r = await portForwardBench(runs);
      return {
        text: [
          `kubectl port-forward's path (CRI PortForward, containerd's streaming server) into a pod, ${runs} rounds`,
          header,
          row('mayu: one forwarded request', r.request.mayu),
          row('runc: one forwarded request', r.request.runc),
          `ratio mayu / runc (medians): ${r.request.ratio.toFixed(2)}x`,
          row(`mayu: ${16} MiB forwarded`, r.throughput.mayu, 'MiB/s'),
          row(`runc: ${16} MiB forwarded`, r.throughput.runc, 'MiB/s'),
          `ratio mayu / runc (medians): ${r.throughput.ratio.toFixed(2)}x`,
        ].join('\n'),
        json: r,
      };
    }
    case 'stdio': {
      const r = await stdioBench(runs);
      return {
        text: [
          comparison(`${r.mib} MiB of a container's stdout through ctr run, ${runs} runs each`, r.stdout, 'mayu', 'runc', 'MiB/s'),
          comparison(`${r.mib} MiB into a container's stdin through ctr run, ${runs} runs each`, r.stdin, 'mayu', 'runc', 'MiB/s'),
          `mayu shim peak PSS while streaming: ${r.shimPeakPssMib.toFixed(1)} MiB`,
        ].join('\n\n'),
        json: r,
      };
    }
    case 'engines': {
      const r = await enginesBench(runs);
      const engineRows = (engine: string, e: EngineRow): string[] =>
        Object.entries(e).map(([rt, v]) => ('ms' in v ? row(`${engine} run --rm (${rt})`, v.ms) : `${`${engine} run --rm (${rt})`.padEnd(30)} does not run here: ${v.fails}`));
      const phaseLabels: [string, keyof typeof r.phases.docker][] = [
        ['  before create (engine)', 'beforeCreate'],
        ['  create (VM boot, container)', 'create'],
        ['  create -> start (engine)', 'betweenCreateAndStart'],
        ['  start', 'start'],
        ['  true runs, VM off, exit seen', 'runAndExit'],
        ['  delete', 'delete'],
        ['  after delete (engine)', 'afterDelete'],
      ];
      return {
        text: [
          `run --rm of true through Docker 20.10 and podman 4.3, ${runs} runs each, alternating runtimes`,
          header,
          ...engineRows('docker', r.docker),
          ...engineRows('podman', r.podman),
          `ratio mayu / runc (medians): docker ${r.ratios.docker.toFixed(2)}x, podman ${r.ratios.podman.toFixed(2)}x`,
          "where mayu-runtime's time goes (split by the engine's calls to it)",
          header,
          ...phaseLabels.flatMap(([label, k]) => [row(`docker${label}`, r.phases.docker[k]), row(`podman${label}`, r.phases.podman[k])]),
        ].join('\n'),
        json: r,
      };
    }
    case 'agent-rss': {
      const r = await agentRssBench(runs);
      return { text: [`guest agent RSS, ${runs} sandboxes`, header, row('idle after boot', r.idleMib, 'MiB'), row('after one container', r.afterContainerMib, 'MiB')].join('\n'), json: r };
    }
  }
}

/** `npm run bench -- <name>... [--runs N] [--pods N,N,...] [--containerd 1.6,1.7,2.1] [--json] [--config-toml TOML]` */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      runs: { type: 'string', default: '10' },
      pods: { type: 'string', default: '1,5,10' },
      containerd: { type: 'string', default: '1.6' },
      json: { type: 'boolean', default: false },
      'config-toml': { type: 'string', default: '' },
    },
    allowPositionals: true,
  });
  const names = (positionals.length > 0 ? positionals : ['boot']) as Name[];
  const runs = Number(values.runs);
  const pods = values.pods.split(',').map(Number);
  const containerd = values.containerd.split(',') as ContainerdVersion[];
  if (
    names.some((n) => !BENCHMARKS.includes(n)) ||
    !Number.isInteger(runs) ||
    runs < 1 ||
    pods.some((n) => !Number.isInteger(n) || n < 1) ||
    containerd.some((v) => !(CONTAINERD_VERSIONS as readonly string[]).includes(v))
  ) {
    process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}>... [--runs N] [--pods N,N,...] [--containerd ${CONTAINERD_VERSIONS.join(',')}] [--json] [--config-toml TOML]\n`);
    return 2;
  }
  const results: Record<string, unknown> = {};
  for (const name of names) {
    const r = await bench(name, runs, values['config-toml'], pods, containerd);
    results[name] = r.json;
    if (!values.json) process.stdout.write(`${r.text}\n\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
