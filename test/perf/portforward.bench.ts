import { PrivateContainerd } from '../helpers/containerd.js';
import { CriClient, podSandboxConfig, startPodContainer } from '../helpers/cri-client.js';
import { ChannelStream } from '../helpers/k8s-stream.js';
import { progress, summarize, type Summary } from './stats.js';

export interface PortForwardBench {
  runs: number;
  /** One port-forwarded HTTP request, as kubectl port-forward makes it: CRI PortForward, the WebSocket, the dial, a GET, the whole answer; ms. */
  request: { mayu: Summary; runc: Summary; ratio: number };
  /** A 16 MiB answer through port-forward, MiB/s. */
  throughput: { mayu: Summary; runc: Summary; ratio: number };
}

const REQUESTS = 10;
const BIG_MIB = 16;
const PORT = 8080;
/** The small page's answer is whole once its body ("ok") has come. */
const smallDone = (_bytes: number, tail: string): boolean => tail.endsWith('\r\n\r\nok\n');
const bigDone = (bytes: number): boolean => bytes >= BIG_MIB << 20;

/**
 * One GET through CRI PortForward and containerd's streaming server: the
 * bytes of the answer, and the ms from the PortForward call until `enough`
 * bytes had come (containerd keeps a finished stream open for another
 * second before it closes it: that linger is not the pod's, so it is not
 * timed).
 */
async function forwardedGet(cri: CriClient, podSandboxId: string, path: string, enough: (bytes: number, tail: string) => boolean): Promise<{ bytes: number; ms: number }> {
  const started = performance.now();
  const { url } = await cri.portForward({ podSandboxId, port: [PORT] });
  const s = await ChannelStream.connect(url);
  let bytes = 0;
  let first = true;
  let doneAt = 0;
  let tail = '';
  s.on('message', (ch, d) => {
    // A newer streaming server opens each channel with the port (two bytes).
    const header = d.length === 2 && d.readUInt16LE(0) === PORT;
    if (ch === 0 && !(first && header)) {
      bytes += d.length;
      tail = (tail + d.subarray(-64).toString('latin1')).slice(-64);
    }
    if (ch === 0) first = false;
    if (!doneAt && bytes > 0 && enough(bytes, tail)) {
      doneAt = performance.now();
      s.close();
    }
    // An error (containerd could not dial: nothing listens yet) ends this try.
    if (ch === 1 && !header) s.close();
  });
  const closed = new Promise<void>((resolve) => s.once('close', resolve));
  s.send(0, `GET ${path} HTTP/1.0\r\n\r\n`);
  const timer = setTimeout(() => s.close(), 60_000);
  await closed;
  clearTimeout(timer);
  return { bytes, ms: (doneAt || performance.now()) - started };
}

/** `npm run bench -- portforward`: kubectl port-forward's path into a mayu pod and into a runc pod, alternating. */
export async function portForwardBench(runs: number): Promise<PortForwardBench> {
  const ctrd = await PrivateContainerd.start();
  const cri = new CriClient(ctrd.address);
  const latency: Record<'mayu' | 'runc', number[]> = { mayu: [], runc: [] };
  const tput: Record<'mayu' | 'runc', number[]> = { mayu: [], runc: [] };
  const pods: string[] = [];
  try {
    const server = async (handler: string): Promise<string> => {
      const name = `pf-${handler || 'runc'}`;
      const config = podSandboxConfig(name, `${ctrd.dir}/pod-logs`);
      const { podSandboxId } = await cri.runPodSandbox({ config, runtimeHandler: handler });
      pods.push(podSandboxId);
      const command = ['sh', '-c', `mkdir -p /www && echo ok > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count=${BIG_MIB} 2>/dev/null && exec httpd -f -p ${PORT} -h /www`];
      await startPodContainer(cri, { podSandboxId, config }, 'srv', command);
      // Until the server answers through port-forward (bounded).
      for (let i = 0; i < 60 && (await forwardedGet(cri, podSandboxId, '/index.html', smallDone)).bytes === 0; i++) await new Promise((r) => setTimeout(r, 500));
      return podSandboxId;
    };
    const target = { mayu: await server('mayu'), runc: await server('') };
    for (let i = 0; i < runs; i++) {
      for (const kind of ['mayu', 'runc'] as const) {
        let total = 0;
        for (let n = 0; n < REQUESTS; n++) total += (await forwardedGet(cri, target[kind], '/index.html', smallDone)).ms;
        const perRequest = total / REQUESTS;
        latency[kind].push(perRequest);
        const big = await forwardedGet(cri, target[kind], '/big', bigDone);
        if (big.bytes < BIG_MIB << 20) throw new Error(`${kind}: only ${big.bytes} bytes of /big came through`);
        const mibPerSec = BIG_MIB / (big.ms / 1000);
        tput[kind].push(mibPerSec);
        progress(`portforward ${kind} ${i + 1}/${runs}: ${perRequest.toFixed(1)} ms per request, ${mibPerSec.toFixed(0)} MiB/s`);
      }
    }
    for (const p of pods.splice(0)) {
      await cri.stopPodSandbox({ podSandboxId: p });
      await cri.removePodSandbox({ podSandboxId: p });
    }
  } finally {
    for (const p of pods) await cri.stopPodSandbox({ podSandboxId: p }).catch(() => {});
    cri.close();
    await ctrd.settle();
    await ctrd.stop();
  }
  const ratio = (m: Record<'mayu' | 'runc', number[]>): number => summarize(m.mayu).median / summarize(m.runc).median;
  return {
    runs,
    request: { mayu: summarize(latency.mayu), runc: summarize(latency.runc), ratio: ratio(latency) },
    throughput: { mayu: summarize(tput.mayu), runc: summarize(tput.runc), ratio: ratio(tput) },
  };
}
