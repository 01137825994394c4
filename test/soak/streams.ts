import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_IMAGE, MAYU_RUNTIME, type PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, startPodContainer } from '../helpers/cri-client.js';
import { startMayu } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';
import { rssMib } from './resources.js';

/**
 * Large streams through every path a container's stdio takes (issue 13):
 * ctr's FIFOs (stdout and stdin), the CRI's file log, and `mayu run`'s pipes
 * (stdout and stdin). The data is numbered 1 KiB lines, so a lost, repeated
 * or reordered chunk changes the checksum; the container makes them with awk
 * or checks them with sha256sum, and this side computes the same. While a
 * stream runs, the shim's (or the mayu CLI's) RSS is sampled: its peak is
 * the bound the report states.
 */
export interface StreamResult {
  path: string;
  mib: number;
  seconds: number;
  mibPerSec: number;
  /** The highest RSS of the host process that carries the stream (shim or mayu CLI), MiB. */
  peakRssMib: number;
}

const LINE = 1024;
/** awk in the container: `n` lines of 1 KiB, each its number in 10 digits and x padding. */
const AWK_LINES = (n: number): string => `awk 'BEGIN { p = sprintf("%${LINE - 11}s", ""); gsub(/ /, "x", p); for (i = 0; i < ${n}; i++) printf "%010d%s\\n", i, p }'`;

/** The same lines here, in chunks. */
function* lines(n: number): Generator<Buffer> {
  const pad = 'x'.repeat(LINE - 11);
  const per = 1024;
  for (let i = 0; i < n; i += per) {
    let chunk = '';
    for (let j = i; j < Math.min(n, i + per); j++) chunk += `${String(j).padStart(10, '0')}${pad}\n`;
    yield Buffer.from(chunk);
  }
}

function expectedSha(n: number): string {
  const h = createHash('sha256');
  for (const c of lines(n)) h.update(c);
  return h.digest('hex');
}

/** Samples `pids()`' total RSS every 250 ms until stopped; the peak. */
function peakSampler(pids: () => (number | undefined)[]): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    const total = pids().reduce<number>((sum, pid) => sum + (Number.isFinite(rssMib(pid)) ? rssMib(pid) : 0), 0);
    peak = Math.max(peak, total);
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Collects a child's stdout into a hash (and the text, when small), its stderr, and its exit code. */
async function drained(child: ChildProcess, keepText = false): Promise<{ code: number | null; sha: string; bytes: number; text: string; stderr: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  let text = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    h.update(c);
    bytes += c.length;
    if (keepText && text.length < 4096) text += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  return { code, sha: h.digest('hex'), bytes, text, stderr };
}

async function feed(child: ChildProcess, n: number): Promise<void> {
  const stdin = child.stdin;
  assert.ok(stdin, 'a stdin pipe');
  stdin.on('error', () => {});
  for (const c of lines(n)) if (!stdin.write(c)) await new Promise((r) => stdin.once('drain', r));
  stdin.end();
}

const result = (path: string, mib: number, t0: number, peakRssMib: number): StreamResult => {
  const seconds = (performance.now() - t0) / 1000;
  return { path, mib, seconds, mibPerSec: mib / seconds, peakRssMib };
};

export async function streamThroughEveryPath(ctrd: PrivateContainerd, mib: number, progress: (line: string) => void = () => {}): Promise<StreamResult[]> {
  const n = mib * 1024;
  const want = expectedSha(n);
  const results: StreamResult[] = [];
  const ctrRun = (id: string, cmd: string): ChildProcess => ctrd.startCtr(['run', '--rm', '--runtime', MAYU_RUNTIME, '--runtime-config-path', ctrd.mayuConfig, EXAMPLE_IMAGE, id, 'sh', '-c', cmd]);

  {
    progress(`ctr stdout (FIFO): ${mib} MiB`);
    const t0 = performance.now();
    const peak = peakSampler(() => ctrd.shims());
    const r = await drained(ctrRun('stream-out', AWK_LINES(n)));
    const p = peak.stop();
    assert.deepEqual([r.code, r.bytes, r.sha], [0, n * LINE, want], `ctr stdout: ${r.stderr}`);
    results.push(result('ctr stdout (FIFO)', mib, t0, p));
  }
  {
    progress(`ctr stdin (FIFO): ${mib} MiB`);
    const t0 = performance.now();
    const peak = peakSampler(() => ctrd.shims());
    const child = ctrRun('stream-in', 'sha256sum');
    const out = drained(child, true);
    await feed(child, n);
    const r = await out;
    const p = peak.stop();
    assert.deepEqual([r.code, r.text.split(' ')[0]], [0, want], `ctr stdin: ${r.stderr}`);
    results.push(result('ctr stdin (FIFO)', mib, t0, p));
  }
  {
    progress(`CRI file log: ${mib} MiB`);
    const cri = new CriClient(ctrd.address, 1_800_000);
    const logDir = join(ctrd.dir, 'pod-logs', 'stream');
    const config = podSandboxConfig('stream', logDir);
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: 'mayu' });
    try {
      const t0 = performance.now();
      const peak = peakSampler(() => ctrd.shims());
      const containerId = await startPodContainer(cri, { podSandboxId, config }, 'writer', ['sh', '-c', AWK_LINES(n)]);
      for (;;) {
        const s = (await cri.containerStatus({ containerId, verbose: false })).status;
        if (s?.finishedAt && s.finishedAt > 0n) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const p = peak.stop();
      const sha = await criLogSha(join(logDir, 'writer.log'));
      assert.equal(sha, want, 'the CRI log, its lines put back together');
      results.push(result('CRI file log', mib, t0, p));
    } finally {
      await cri
        .stopPodSandbox({ podSandboxId })
        .then(() => cri.removePodSandbox({ podSandboxId }))
        .catch(() => {});
      cri.close();
    }
  }
  const image = (await testImage()).layout;
  {
    progress(`mayu run stdout (pipe): ${mib} MiB`);
    const t0 = performance.now();
    const child = startMayu(['run', '--rm', '--config', ctrd.mayuConfig, image, '--', 'sh', '-c', AWK_LINES(n)]);
    const peak = peakSampler(() => [child.pid]);
    const r = await drained(child);
    const p = peak.stop();
    assert.deepEqual([r.code, r.bytes, r.sha], [0, n * LINE, want], `mayu run stdout: ${r.stderr}`);
    results.push(result('mayu run stdout (pipe)', mib, t0, p));
  }
  {
    progress(`mayu run -i stdin (pipe): ${mib} MiB`);
    const t0 = performance.now();
    const child = startMayu(['run', '--rm', '-i', '--config', ctrd.mayuConfig, image, '--', 'sha256sum']);
    const peak = peakSampler(() => [child.pid]);
    const out = drained(child, true);
    await feed(child, n);
    const r = await out;
    const p = peak.stop();
    assert.deepEqual([r.code, r.text.split(' ')[0]], [0, want], `mayu run -i: ${r.stderr}`);
    results.push(result('mayu run -i stdin (pipe)', mib, t0, p));
  }
  return results;
}

/** The sha256 of what a CRI log holds: each line's content after "TIMESTAMP STREAM TAG ", with its newline unless the tag is P (partial). */
async function criLogSha(path: string): Promise<string> {
  const h = createHash('sha256');
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/s.exec(line);
      assert.ok(m, `a CRI log line: ${line.slice(0, 80)}`);
      assert.equal(m[1], 'stdout');
      h.update(m[3] ?? '');
      if (m[2] === 'F') h.update('\n');
    }
  }
  assert.equal(rest, '', 'the log ends with a whole line');
  return h.digest('hex');
}

export const formatStreams = (rs: StreamResult[]): string =>
  rs
    .map((r) => `  ${r.path.padEnd(26)} ${r.mib} MiB in ${r.seconds.toFixed(1)} s (${r.mibPerSec.toFixed(1)} MiB/s), sha256 equal; peak RSS of the carrying process ${r.peakRssMib.toFixed(0)} MiB`)
    .join('\n');
