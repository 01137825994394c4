import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mountsUnder } from '@mayu/runtime';
import type { PrivateContainerd } from '../helpers/containerd.js';
import { entriesOf, filesUnder, processesMentioning } from '../helpers/leftovers.js';

/** Where ctr puts a task's fifos, and containerd's shim sockets and pod network namespaces (host-wide). */
const CTR_FIFO_DIR = '/run/containerd/fifo';
const SHIM_SOCKET_DIR = '/run/containerd/s';
const NETNS_DIR = '/var/run/netns';

/**
 * What a containerd and its mayu pods hold on the host: the things a soak
 * counts before and after a run. Each is a list of names, so a leak is
 * reported by what it is, not as a number.
 */
export interface Resources {
  /** Processes of this containerd other than containerd itself: shims, QEMU, ctr. */
  processes: string[];
  mounts: string[];
  shimSockets: string[];
  fifos: string[];
  /** containerd's per-task state directories (io.containerd.runtime.v2.task/NS/ID) and the CRI's per-container and per-pod ones. */
  taskDirs: string[];
  /** Everything under the shims' mayu state directory. */
  mayuState: string[];
  netns: string[];
  /** Loop devices in use, by backing file. */
  loops: string[];
  /** Network interfaces in the host's namespace (taps, veths, bridges). */
  links: string[];
  /** containerd's open file descriptors. */
  containerdFds: number;
}

const dirsAt = (dir: string, depth: number): string[] => (depth === 0 ? [dir] : entriesOf(dir).flatMap((e) => dirsAt(join(dir, e), depth - 1)));

function loopDevices(): string[] {
  return entriesOf('/sys/block')
    .filter((d) => d.startsWith('loop'))
    .flatMap((d) => {
      try {
        return [`${d}: ${readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim()}`];
      } catch {
        return []; // not attached
      }
    });
}

function hostLinks(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter(Boolean);
}

function fdCount(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The state root's own directories, made on first use and kept: what is inside them counts. */
const MAYU_STATE_PARENTS = new Set(['sandboxes/', 'runs/']);

export function resourcesOf(ctrd: PrivateContainerd): Resources {
  const state = join(ctrd.dir, 'state');
  return {
    processes: processesMentioning(ctrd.dir)
      .filter((p) => p.pid !== ctrd.pid)
      .map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`),
    mounts: mountsUnder(ctrd.dir),
    shimSockets: entriesOf(SHIM_SOCKET_DIR),
    fifos: filesUnder(CTR_FIFO_DIR),
    taskDirs: [
      ...dirsAt(join(state, 'io.containerd.runtime.v2.task'), 2),
      ...dirsAt(join(state, 'io.containerd.grpc.v1.cri', 'containers'), 1),
      ...dirsAt(join(state, 'io.containerd.grpc.v1.cri', 'sandboxes'), 1),
    ].map((d) => d.slice(state.length + 1)),
    mayuState: filesUnder(join(ctrd.dir, 'mayu')).filter((f) => !MAYU_STATE_PARENTS.has(f)),
    netns: entriesOf(NETNS_DIR),
    loops: loopDevices(),
    links: hostLinks(),
    containerdFds: fdCount(ctrd.pid),
  };
}

/** Allowed growth of containerd's fd count across a run (its gRPC connections from ctr and CRI clients come and go). */
const FD_SLACK = 4;

/** What `after` holds that `before` did not: one line per leaked thing. */
export function leaksBetween(before: Resources, after: Resources): string[] {
  const found: string[] = [];
  for (const key of ['processes', 'mounts', 'shimSockets', 'fifos', 'taskDirs', 'mayuState', 'netns', 'loops', 'links'] as const) {
    const had = new Set(before[key]);
    for (const item of after[key]) if (!had.has(item)) found.push(`${key}: ${item}`);
  }
  if (after.containerdFds > before.containerdFds + FD_SLACK) found.push(`containerdFds: ${before.containerdFds} -> ${after.containerdFds}`);
  return found;
}

/** A process's resident set size in MiB (NaN when it is gone). */
export function rssMib(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
