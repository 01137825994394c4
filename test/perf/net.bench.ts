import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, startPodContainer } from '../helpers/cri-client.js';
import { progress, summarize, type Summary } from './stats.js';

export interface NetBench {
  runs: number;
  /** One HTTP request/response round trip between two pods, ms (mean of a burst). */
  rtt: { mayu: Summary; runc: Summary; ratio: number };
  /** A 32 MiB transfer between two pods over TCP, MiB/s. */
  throughput: { mayu: Summary; runc: Summary; ratio: number };
  /** What networking adds to a mayu pod's start, from the shim's log: the host wiring (scan, taps, tc) and the guest configuration (agent RPCs). */
  start: { attach: Summary; configure: Summary };
}

const REQUESTS = 50;
const BIG_MIB = 32;

/** Runs a script in a container; its stdout (the exit status must be 0). */
async function inPod(cri: CriClient, containerId: string, script: string): Promise<string> {
  const r = await cri.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 300n });
  if (r.exitCode !== 0) throw new Error(`${script}: exit ${r.exitCode}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}

/** Centiseconds since boot (the guest's or the host's /proc/uptime), around a command: its wall time in ms. */
const timed = (cmd: string): string => `a=$(cut -d' ' -f1 /proc/uptime); ${cmd}; b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b" | awk '{ printf "%.0f\\n", ($2 - $1) * 1000 }'`;

/**
 * Two pods of one runtime on the test's own CNI bridge (no gateway, no
 * masquerade): a server pod (busybox httpd with a small page and a 32 MiB
 * file) and a client pod. Bounded traffic between the two only.
 */
async function podPair(cri: CriClient, ctrd: PrivateContainerd, handler: string): Promise<{ serverIp: string; client: string; pods: string[] }> {
  const pods: string[] = [];
  const make = async (name: string, command: string[]): Promise<{ ip: string; containerId: string }> => {
    const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`);
    const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: handler });
    pods.push(podSandboxId);
    const ip = (await cri.podSandboxStatus({ podSandboxId, verbose: false })).status?.network?.ip ?? '';
    return { ip, containerId: await startPodContainer(cri, { podSandboxId, config }, 'c', command) };
  };
  const server = await make(`srv-${handler || 'runc'}`, [
    'sh',
    '-c',
    `mkdir -p /www && echo ok > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count=${BIG_MIB} 2>/dev/null && exec httpd -f -p 8080 -h /www`,
  ]);
  const client = await make(`cli-${handler || 'runc'}`, ['sleep', '3600']);
  // Until the server answers (bounded).
  await inPod(cri, client.containerId, `for i in $(seq 60); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${server.ip} 8080 | grep -q ok && exit 0; sleep 0.5; done; exit 1`);
  return { serverIp: server.ip, client: client.containerId, pods };
}

/** `npm run bench -- net`: request round trip and throughput between two pods, mayu beside runc; what networking adds to a pod's start. */
export async function netBench(runs: number): Promise<NetBench> {
  const ctrd = await PrivateContainerd.start();
  const cri = new CriClient(ctrd.address);
  const rtt: Record<'mayu' | 'runc', number[]> = { mayu: [], runc: [] };
  const tput: Record<'mayu' | 'runc', number[]> = { mayu: [], runc: [] };
  try {
    const pairs = { mayu: await podPair(cri, ctrd, 'mayu'), runc: await podPair(cri, ctrd, '') };
    for (let i = 0; i < runs; i++) {
      for (const kind of ['mayu', 'runc'] as const) {
        const { serverIp, client } = pairs[kind];
        const burst = Number(await inPod(cri, client, timed(`for i in $(seq ${REQUESTS}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${serverIp} 8080 >/dev/null; done`)));
        rtt[kind].push(burst / REQUESTS);
        const ms = Number(await inPod(cri, client, timed(`printf 'GET /big HTTP/1.0\\r\\n\\r\\n' | nc -w 30 ${serverIp} 8080 | wc -c >/dev/null`)));
        tput[kind].push(BIG_MIB / (ms / 1000));
        progress(`net ${kind} ${i + 1}/${runs}: ${(burst / REQUESTS).toFixed(1)} ms per request, ${(BIG_MIB / (ms / 1000)).toFixed(0)} MiB/s`);
      }
    }
    for (const p of [...pairs.mayu.pods, ...pairs.runc.pods]) {
      await cri.stopPodSandbox({ podSandboxId: p });
      await cri.removePodSandbox({ podSandboxId: p });
    }
  } finally {
    cri.close();
    await ctrd.settle();
  }
  const log = readFileSync(join(ctrd.dir, 'containerd.log'), 'utf8');
  await ctrd.stop();
  const field = (event: string, key: string): number[] =>
    log
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes(`"event":"${event}"`))
      .map((l) => Number((JSON.parse(l) as Record<string, unknown>)[key]));
  const s = (k: 'mayu' | 'runc', m: Record<'mayu' | 'runc', number[]>): Summary => summarize(m[k]);
  return {
    runs,
    rtt: { mayu: s('mayu', rtt), runc: s('runc', rtt), ratio: summarize(rtt.mayu).median / summarize(rtt.runc).median },
    throughput: { mayu: s('mayu', tput), runc: s('runc', tput), ratio: summarize(tput.mayu).median / summarize(tput.runc).median },
    start: { attach: summarize(field('network.attached', 'attachMs')), configure: summarize(field('network.configured', 'configureMs')) },
  };
}
