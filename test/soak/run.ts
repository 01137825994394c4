import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PrivateContainerd } from '../helpers/containerd.js';
import { ARTIFACTS } from '../helpers/guest-factory.js';
import { leaksBetween, resourcesOf } from './resources.js';
import { formatStreams, streamThroughEveryPath, type StreamResult } from './streams.js';
import { concurrentPods, criPodCycles, ctrRunCycles, execsIntoOnePod, formatReport, problemsOf, SOAK_RUNTIME_TOML, warmUp, type Progress, type ScenarioReport } from './scenarios.js';

/**
 * `npm run soak [-- --ctr N --cri N --execs N --pods N --stream-mib M]`: the
 * long soak of issue 13 against a private containerd (defaults 200, 100,
 * 1000, 20, and 1024 MiB through each stdio path).
 * Prints progress, then a report per scenario; writes it as JSON under
 * the test artifacts; exits 1 when anything leaked or grew.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ctr: { type: 'string', default: '200' },
      cri: { type: 'string', default: '100' },
      execs: { type: 'string', default: '1000' },
      pods: { type: 'string', default: '20' },
      'stream-mib': { type: 'string', default: '1024' },
    },
  });
  const counts = { ctr: Number(values.ctr), cri: Number(values.cri), execs: Number(values.execs), pods: Number(values.pods), streamMib: Number(values['stream-mib']) };
  for (const [k, v] of Object.entries(counts)) if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a whole number, not ${String(v)}`);
  const progress =
    (name: string): Progress =>
    (done, total) => {
      if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) process.stderr.write(`  ${name}: ${done}/${total}\n`);
    };
  const ctrd = await PrivateContainerd.start({ runtimeToml: SOAK_RUNTIME_TOML });
  const reports: ScenarioReport[] = [];
  let streams: StreamResult[] = [];
  let failed: string | undefined;
  try {
    process.stderr.write('warming up (template, caches, CNI bridge)\n');
    await warmUp(ctrd);
    const plan: [string, number, (c: PrivateContainerd, n: number, p: Progress) => Promise<ScenarioReport>][] = [
      ['ctr run --rm', counts.ctr, ctrRunCycles],
      ['CRI pod cycles', counts.cri, criPodCycles],
      ['execs', counts.execs, execsIntoOnePod],
      ['concurrent pods', counts.pods, concurrentPods],
    ];
    for (const [name, n, scenario] of plan) {
      if (n === 0) continue;
      process.stderr.write(`${name}: ${n}\n`);
      const r = await scenario(ctrd, n, progress(name));
      reports.push(r);
      process.stdout.write(`${formatReport(r)}\n`);
    }
    if (counts.streamMib > 0) {
      const t0 = performance.now();
      const before = resourcesOf(ctrd);
      streams = await streamThroughEveryPath(ctrd, counts.streamMib, (line) => process.stderr.write(`${line}\n`));
      await ctrd.settle(60_000);
      const leaks = leaksBetween(before, resourcesOf(ctrd));
      reports.push({ name: 'streams', cycles: streams.length, seconds: (performance.now() - t0) / 1000, leaks, trends: {}, informational: [] });
      process.stdout.write(`streams of ${counts.streamMib} MiB through every path; leaks: ${leaks.length === 0 ? 'none' : leaks.join(', ')}\n${formatStreams(streams)}\n`);
    }
  } catch (err) {
    failed = 'soak';
    throw err;
  } finally {
    await ctrd.stop(failed);
  }
  const problems = reports.flatMap(problemsOf);
  const dir = join(ARTIFACTS, 'soak');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ counts, reports, streams, problems }, null, 2));
  process.stdout.write(`\n${problems.length === 0 ? 'no leaks, no growth' : `${problems.length} problems`}; report: ${file}\n`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
