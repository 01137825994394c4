import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MayuError, type CreateContainerOptions, type StorageSpec } from '@mayu/protocol';
import { pino } from 'pino';
import { ContainerManager, type GuestStorage } from '../../src/container/container-manager.js';
import { Crun } from '../../src/container/crun.js';
import { frontScript } from './fake-crun-front.js';
import { ExitReports } from '../../src/container/exit-reports.js';
import { unmountAll } from '../../src/storage/mount-storage.js';

/** The compiled fake crun (fake-crun.ts, next to this file in dist/). */
const FAKE_CRUN = fileURLToPath(new URL('./fake-crun.js', import.meta.url));

/** Storages that are only recorded: a mount point "exists" with every path under it while mounted. */
export class FakeStorage implements GuestStorage {
  /** Mount points, in mount order. */
  readonly mounted: string[] = [];

  mountAll(storages: readonly StorageSpec[]): (() => void)[] {
    const undo: (() => void)[] = [];
    storages.forEach((s, i) => {
      if (s.source === 'fail') {
        unmountAll(undo);
        throw new MayuError('ERR_INVALID_ARGUMENT', `storages[${i}] (${s.driver} ${s.source} on ${s.mountPoint}): mount failed`);
      }
      this.mounted.push(s.mountPoint);
      undo.push(() => this.mounted.splice(this.mounted.lastIndexOf(s.mountPoint), 1));
    });
    return undo;
  }

  exists(path: string): boolean {
    return this.mounted.some((m) => path === m || path.startsWith(`${m}/`));
  }
}

export interface SpecOptions {
  annotations?: Record<string, string>;
  env?: string[];
}

/** A minimal valid OCI spec running `args`, its root under /run/mayu/shared/<id>. */
export function spec(id: string, args: string[], o: SpecOptions = {}): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: { args, cwd: '/', env: ['PATH=/usr/local/bin:/usr/bin:/bin', ...(o.env ?? [])] },
    root: { path: rootfsOf(id) },
    hostname: id,
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
    ...(o.annotations ? { annotations: o.annotations } : {}),
  };
}

export function rootfsOf(id: string): string {
  return `/run/mayu/shared/${id}/rootfs`;
}

/** The storage that provides a container's root filesystem. */
export function rootfsStorage(id: string): StorageSpec {
  return { driver: 'bind', source: `/host/${id}`, fstype: '', options: [], mountPoint: rootfsOf(id) };
}

/**
 * A guest without a VM: a ContainerManager on the fake crun, fake storages,
 * cgroup files and bundles in a temporary directory, and exit reports fed
 * from the fake crun's supervisors. `destroy()` removes every container.
 */
export class FakeGuest {
  readonly dir = mkdtempSync(join(tmpdir(), 'mayu-guest-'));
  readonly crunRoot = join(this.dir, 'crun');
  readonly containersDir = join(this.dir, 'containers');
  readonly cgroupRoot = join(this.dir, 'cgroup');
  readonly exits = new ExitReports();
  readonly storage = new FakeStorage();
  readonly hostnames: string[] = [];
  /** The manager's log records, parsed. */
  readonly logs: Record<string, unknown>[] = [];
  readonly manager: ContainerManager;
  /** Each pinning of the pod's own namespaces (and each unpinning, as hostname "(unpinned)"). */
  readonly pins: { dir: string; hostname: string }[] = [];
  /** The processes made to hold the pod's own PID namespace (real `sleep`s here; the manager kills them). */
  readonly pidHolders: ChildProcess[] = [];
  private readonly reportsFile = join(this.dir, 'exit-reports');
  private reportsRead = 0;
  private readonly poller: NodeJS.Timeout;
  private readonly logWaiters: (() => void)[] = [];

  constructor() {
    mkdirSync(this.crunRoot);
    mkdirSync(join(this.cgroupRoot, 'mayu'), { recursive: true });
    writeFileSync(this.reportsFile, '');
    const bin = join(this.dir, 'fake-crun');
    writeFileSync(bin, frontScript({ node: process.execPath, script: FAKE_CRUN, cgroupRoot: this.cgroupRoot, exitReports: this.reportsFile }), { mode: 0o755 });
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) this.logs.push(JSON.parse(line) as Record<string, unknown>);
        for (const w of this.logWaiters.splice(0)) w();
        done();
      },
    });
    this.manager = new ContainerManager(pino({ level: 'debug' }, sink), this.exits, new Crun(bin, this.crunRoot), {
      containersDir: this.containersDir,
      cgroupRoot: this.cgroupRoot,
      storage: this.storage,
      sethostname: (name) => this.hostnames.push(name),
      podNamespacesDir: join(this.dir, 'pod-ns'),
      pinNamespaces: (dir, hostname) => {
        this.pins.push({ dir, hostname });
        return () => this.pins.push({ dir, hostname: '(unpinned)' });
      },
      spawnPidHolder: () => {
        const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
        this.pidHolders.push(holder);
        return holder.pid ?? 0;
      },
    });
    this.poller = setInterval(() => this.readReports(), 5);
  }

  /** Creates a container running `args` with its rootfs storage. */
  create(id: string, args: string[], o: SpecOptions & Partial<CreateContainerOptions> = {}): Promise<void> {
    const { annotations, env, ...options } = o;
    return this.manager.createContainer({
      containerId: id,
      spec: spec(id, args, { annotations, env }),
      storages: [rootfsStorage(id)],
      stdio: { terminal: false, stdin: false },
      ...options,
    });
  }

  /** Creates and starts a container; returns its init's PID. */
  async run(id: string, args: string[], o: SpecOptions & Partial<CreateContainerOptions> = {}): Promise<number> {
    await this.create(id, args, o);
    await this.manager.startContainer(id);
    return this.initPid(id);
  }

  initPid(id: string): number {
    return Number(readFileSync(join(this.containersDir, id, 'init.pid'), 'utf8'));
  }

  /** The config.json the manager wrote for crun. */
  bundleConfig(id: string): { hostname?: string; linux: { namespaces: { type: string; path?: string }[]; cgroupsPath: string } } {
    return JSON.parse(readFileSync(join(this.containersDir, id, 'config.json'), 'utf8')) as ReturnType<FakeGuest['bundleConfig']>;
  }

  /** Every crun call so far: its arguments after the global options. */
  calls(): string[][] {
    const file = join(this.crunRoot, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t').slice(0, -1));
  }

  /** The status the fake crun keeps for a container ("created", "running", "paused"), or null once deleted. */
  crunStatus(id: string): string | null {
    const file = join(this.crunRoot, id, 'status');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
  }

  cgroupDir(id: string): string {
    return join(this.cgroupRoot, 'mayu', id);
  }

  /** Resolves once the manager has logged `nth` records with this `event`; returns the last. */
  async logged(event: string, nth = 1): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.logs.filter((l) => l.event === event);
      if (found.length >= nth) return found[nth - 1];
      await new Promise<void>((resolve) => this.logWaiters.push(resolve));
    }
  }

  /** Removes every container (killing those that run), then the directory. */
  async destroy(): Promise<void> {
    try {
      await this.manager.destroySandbox();
    } finally {
      clearInterval(this.poller);
      for (const id of existsSync(this.crunRoot) ? readdirSync(this.crunRoot) : []) {
        try {
          process.kill(Number(readFileSync(join(this.crunRoot, id, 'pid'), 'utf8')), 'SIGKILL');
        } catch {
          // not a container, or gone
        }
      }
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Feeds the supervisors' "PID WAIT-STATUS" lines to the exit reports, as mayu-init's pipe would. */
  private readReports(): void {
    const fd = openSync(this.reportsFile, 'r');
    try {
      const buf = Buffer.alloc(4096);
      let text = '';
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.reportsRead + Buffer.byteLength(text))) > 0;) text += buf.toString('utf8', 0, n);
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      this.reportsRead += Buffer.byteLength(complete);
      for (const line of complete.split('\n').filter(Boolean)) {
        const [pid, status] = line.split(' ').map(Number);
        this.exits.report(pid, status);
      }
    } finally {
      closeSync(fd);
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process's state letter from /proc (R, S, T for stopped, Z...). */
export function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
