import { EXAMPLE_IMAGE, MAYU_RUNTIME, type PrivateContainerd } from '../helpers/containerd.js';
import { startInstalledContainerd } from './installed-containerd.js';
import { progress, pssKib, summarize, type Summary } from './stats.js';

export interface StdioBench {
  runs: number;
  mib: number;
  /** MiB/s of a container's stdout through ctr (ctr run --rm … head -c N /dev/zero, read by the benchmark). */
  stdout: { mayu: Summary; runc: Summary; ratio: number };
  /** MiB/s of a container's stdin through ctr (the benchmark writes N bytes; the container counts them). */
  stdin: { mayu: Summary; runc: Summary; ratio: number };
  /** The most the mayu shim's PSS reached while a stream ran, MiB. */
  shimPeakPssMib: number;
}

const ZEROS = Buffer.alloc(1 << 20);

/** One `ctr run --rm`: `mib` MiB through stdout (read and counted here) or stdin (written here, counted in the container); MiB/s. */
async function through(ctrd: PrivateContainerd, runtime: string, id: string, direction: 'stdout' | 'stdin', mib: number, sample: () => void): Promise<number> {
  const bytes = mib * 1048576;
  const extra = runtime === MAYU_RUNTIME ? ['--runtime-config-path', ctrd.mayuConfig] : [];
  const args = direction === 'stdout' ? ['head', '-c', String(bytes), '/dev/zero'] : ['wc', '-c'];
  const t0 = performance.now();
  const child = ctrd.startCtr(['run', '--rm', '--runtime', runtime, ...extra, EXAMPLE_IMAGE, id, ...args]);
  let got = 0;
  let text = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    got += c.length;
    if (direction === 'stdin') text += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setInterval(sample, 250);
  if (direction === 'stdin') {
    const stdin = child.stdin;
    if (!stdin) throw new Error('ctr has no stdin');
    for (let sent = 0; sent < mib; sent++) if (!stdin.write(ZEROS)) await new Promise((r) => stdin.once('drain', r));
    stdin.end();
  } else child.stdin?.end();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`ctr run ${id} (${runtime}) exited ${code}: ${stderr}`);
  const counted = direction === 'stdout' ? got : Number(text.trim());
  if (counted !== bytes) throw new Error(`${id}: ${counted} of ${bytes} bytes came through`);
  return mib / seconds;
}

/**
 * `npm run bench -- stdio`: a container's stdout and stdin through ctr
 * (FIFOs), mayu beside runc, alternating, each byte counted; the mayu shim's
 * PSS is sampled while the streams run (the bound on what it buffers).
 */
export async function stdioBench(runs: number, mib = 64): Promise<StdioBench> {
  const installed = await startInstalledContainerd();
  const { ctrd } = installed;
  const rates = { stdout: { mayu: [] as number[], runc: [] as number[] }, stdin: { mayu: [] as number[], runc: [] as number[] } };
  let peak = 0;
  const sample = (): void => {
    for (const pid of ctrd.shims()) {
      const kib = pssKib(pid);
      if (Number.isFinite(kib)) peak = Math.max(peak, kib / 1024);
    }
  };
  try {
    progress('warm-up: one run of each (builds the VM template)');
    await through(ctrd, 'io.containerd.runc.v2', 'warm-runc', 'stdout', 1, sample);
    await through(ctrd, MAYU_RUNTIME, 'warm-mayu', 'stdout', 1, sample);
    for (let i = 0; i < runs; i++) {
      for (const direction of ['stdout', 'stdin'] as const) {
        for (const kind of i % 2 === 0 ? (['runc', 'mayu'] as const) : (['mayu', 'runc'] as const)) {
          rates[direction][kind].push(await through(ctrd, kind === 'mayu' ? MAYU_RUNTIME : 'io.containerd.runc.v2', `${direction}-${kind}-${i}`, direction, mib, sample));
        }
        await ctrd.settle();
      }
      progress(
        `run ${i + 1}/${runs}: stdout mayu ${rates.stdout.mayu.at(-1)?.toFixed(1)} MiB/s, runc ${rates.stdout.runc.at(-1)?.toFixed(0)}; stdin mayu ${rates.stdin.mayu.at(-1)?.toFixed(1)}, runc ${rates.stdin.runc.at(-1)?.toFixed(0)}`,
      );
    }
    const pair = (x: { mayu: number[]; runc: number[] }): { mayu: Summary; runc: Summary; ratio: number } => {
      const m = summarize(x.mayu);
      const r = summarize(x.runc);
      return { mayu: m, runc: r, ratio: m.median / r.median };
    };
    return { runs, mib, stdout: pair(rates.stdout), stdin: pair(rates.stdin), shimPeakPssMib: peak };
  } finally {
    await installed.stop();
  }
}
