import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient, defaultSpec, resolveImage } from '@mayu/runtime';
import { GuestFactory } from '../helpers/guest-factory.js';
import { MAYU_BIN } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';
import { RuncBundle } from './runc-baseline.js';
import { progress, summarize, type Summary } from './stats.js';

const ms = (t0: number): number => performance.now() - t0;

function mayu(args: string[], allowFailure = false): { ms: number; stdout: string; status: number } {
  const t0 = performance.now();
  const r = spawnSync(MAYU_BIN, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFailure) throw new Error(`mayu ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { ms: ms(t0), stdout: r.stdout, status: r.status ?? -1 };
}

export interface Comparison {
  mayu: Summary;
  runc: Summary;
  ratio: number;
}

function compare(mayuMs: number[], runcMs: number[]): Comparison {
  const m = summarize(mayuMs);
  const r = summarize(runcMs);
  return { mayu: m, runc: r, ratio: m.median / r.median };
}

/** Cold `run` of `true`: `mayu run --rm` against `runc run`, alternating, same rootfs. */
export async function runTrueBench(runs: number): Promise<Comparison> {
  const vms = new GuestFactory();
  const { rootfs, layout } = await testImage();
  const runc = new RuncBundle(['/bin/true'], rootfs);
  const config = vms.configFile();
  const m: number[] = [];
  const r: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      m.push(mayu(['run', '--rm', '--config', config, layout, '--', 'true']).ms);
      r.push(runc.run(`true-${process.pid}-${i}`));
      progress(`run true ${i + 1}/${runs}: mayu ${m[i]?.toFixed(0)} ms, runc ${r[i]?.toFixed(0)} ms`);
    }
  } finally {
    runc.remove();
    await vms.cleanup();
  }
  return compare(m, r);
}

/** Exec latency into a running container: `mayu exec` (CLI, and the agent API) against `runc exec`. */
export async function execBench(runs: number): Promise<{ cli: Comparison; api: Comparison }> {
  const vms = new GuestFactory();
  const { rootfs, layout } = await testImage();
  const runc = new RuncBundle(['/bin/sleep', '600'], rootfs);
  const config = vms.configFile();
  const cli: number[] = [];
  const api: number[] = [];
  const runcMs: number[] = [];
  const id = `runc-exec-${process.pid}`;
  try {
    mayu(['run', '-d', '--name', 'bench-exec', '--config', config, layout, '--', 'sleep', '600']);
    runc.start(id);
    const agent = AgentClient.attach(join(vms.stateRoot, 'sandboxes/bench-exec/agent-grpc.sock'), { dialTimeoutMs: 30_000, callTimeoutMs: 30_000 });
    for (let i = 0; i < runs; i++) {
      cli.push(mayu(['exec', '--config', config, 'bench-exec', '--', 'true']).ms);
      const t0 = performance.now();
      const ref = { containerId: 'bench-exec', execId: `api-${i}` };
      await agent.execProcess({ ...ref, process: { args: ['true'], cwd: '/', env: ['PATH=/bin'] }, stdio: { terminal: false, stdin: false } });
      await agent.waitProcess(ref);
      api.push(ms(t0));
      runcMs.push(runc.exec(id, ['/bin/true']));
      progress(`exec ${i + 1}/${runs}: mayu exec ${cli[i]?.toFixed(0)} ms, agent API ${api[i]?.toFixed(0)} ms, runc exec ${runcMs[i]?.toFixed(0)} ms`);
    }
    agent.close();
  } finally {
    runc.kill(id);
    runc.remove();
    mayu(['rm', '--force', '--config', config, 'bench-exec'], true);
    await vms.cleanup();
  }
  return { cli: compare(cli, runcMs), api: compare(api, runcMs) };
}

/** Sequential read of a 256 MiB file from the container's rootfs: over 9p, from a block device, and with runc on the host. */
export async function readBench(runs: number): Promise<{ mibPerSec: Record<string, Summary>; percentOfHost: Record<string, number> }> {
  const vms = new GuestFactory();
  const rootfs = join(vms.stateRoot, 'read-rootfs');
  cpSync((await testImage()).rootfs, rootfs, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(rootfs, 'data'), { recursive: true });
  execFileSync('dd', ['if=/dev/urandom', `of=${join(rootfs, 'data/big')}`, 'bs=1M', 'count=256', 'status=none']);
  // busybox time -f %e: elapsed seconds (10 ms resolution), its last line of output.
  const cmd = ['sh', '-c', 'time -f %e dd if=/data/big of=/dev/null bs=1M 2>&1 | tail -n 1'];
  const runc = new RuncBundle(cmd, rootfs);
  const speeds: Record<string, number[]> = { 'virtio-9p': [], block: [], 'runc (host fs)': [] };
  const seconds = (out: string): number => Number(out.trim().split('\n').at(-1));
  try {
    for (let i = 0; i < runs; i++) {
      for (const [name, toml] of [
        ['virtio-9p', ''],
        ['block', '[sandbox]\ncontainer_rootfs = "block"'],
      ] as const) {
        const out = mayu(['run', '--rm', '--config', vms.configFile(toml), rootfs, '--', ...cmd]).stdout;
        speeds[name]?.push(256 / seconds(out));
      }
      speeds['runc (host fs)']?.push(256 / seconds(runc.runOutput(`read-${process.pid}-${i}`)));
      progress(
        `read ${i + 1}/${runs}: ${Object.entries(speeds)
          .map(([k, v]) => `${k} ${v[i]?.toFixed(0)} MiB/s`)
          .join(', ')}`,
      );
    }
  } finally {
    runc.remove();
    await vms.cleanup();
  }
  const mibPerSec = Object.fromEntries(Object.entries(speeds).map(([k, v]) => [k, summarize(v)]));
  const host = mibPerSec['runc (host fs)']?.median ?? NaN;
  return { mibPerSec, percentOfHost: { 'virtio-9p': ((mibPerSec['virtio-9p']?.median ?? NaN) / host) * 100, block: ((mibPerSec.block?.median ?? NaN) / host) * 100 } };
}

/** The guest agent's RSS: idle after boot, and after running a container. */
export async function agentRssBench(runs: number): Promise<{ idleMib: Summary; afterContainerMib: Summary }> {
  const vms = new GuestFactory();
  const idle: number[] = [];
  const after: number[] = [];
  const rss = (metrics: string): number => Number(/^mayu_agent_rss_bytes (\d+)$/m.exec(metrics)?.[1] ?? NaN) / 1048576;
  try {
    const image = await resolveImage((await testImage()).layout);
    for (let i = 0; i < runs; i++) {
      const { sandbox } = await vms.boot({ id: `rss-${i}` });
      idle.push(rss(await sandbox.agent.metrics()));
      const spec = defaultSpec(image.rootfs, image.config, { args: ['true'], env: [], terminal: false, volumes: [] });
      await sandbox.createContainer({ id: 'c', spec, rootfs: 'image', stdio: { terminal: false, stdin: false } });
      await sandbox.agent.startContainer('c');
      await sandbox.agent.waitProcess({ containerId: 'c', execId: '' });
      after.push(rss(await sandbox.agent.metrics()));
      await sandbox.removeContainer('c');
      await sandbox.stop();
      progress(`agent rss ${i + 1}/${runs}: idle ${idle[i]?.toFixed(1)} MiB, after a container ${after[i]?.toFixed(1)} MiB`);
    }
  } finally {
    await vms.cleanup();
  }
  return { idleMib: summarize(idle), afterContainerMib: summarize(after) };
}
