import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountsUnder, removeDirSafely, terminate } from '@mayu/runtime';
import { processesMentioning } from './leftovers.js';
import { MAYU_RUNTIME_BIN } from './oci-runtime.js';
import { finished, type CliResult } from './run-cli.js';

/** Runs a command to its end; `input` goes to its stdin. */
function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(cmd, args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = finished(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  child.stdin?.on('error', () => {});
  child.stdin?.end(o.input ?? '');
  return done.finally(() => clearTimeout(timer));
}

/** Ends what an engine left under `dir` (conmon, holders, VMs, dockerd, containerd), by PID, then its mounts and files. */
async function sweep(dir: string): Promise<void> {
  for (const p of processesMentioning(dir)) await terminate(p.pid, 2000).catch(() => {});
  for (const m of mountsUnder(dir).reverse()) await run('umount', ['-l', m]);
  removeDirSafely(dir);
}

/**
 * mayu-runtime with the test's mayu configuration and its state under DIR,
 * as an engine is given a runtime: one executable (a script in DIR). With `callLog`, it also logs
 * when each command begins and ends (ns), to split a run by its calls;
 * `binary` is the mayu-runtime it runs (the repository's, unless an
 * installed one is given).
 */
export function mayuRuntimeFor(dir: string, mayuConfig: string, callLog?: string, binary = MAYU_RUNTIME_BIN): string {
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, callLog ? 'mayu-runtime-timed' : 'mayu-runtime');
  // Its state under DIR too (Docker's runc shim passes a --root of its own, which comes later and wins).
  const call = `${binary} --config ${mayuConfig} --root ${join(dir, 'mayu-runtime-root')} "$@"`;
  writeFileSync(bin, callLog ? `#!/bin/sh\necho "$(date +%s%N) begin $*" >> ${callLog}\n${call}\nrc=$?\necho "$(date +%s%N) end $*" >> ${callLog}\nexit $rc\n` : `#!/bin/sh\nexec ${call}\n`);
  chmodSync(bin, 0o755);
  return bin;
}

/**
 * podman, private to a test: its storage, run root, events, networks and
 * configuration all under DIR; `mayu` (containers.conf [engine.runtimes])
 * its default runtime, runc and crun known as usual. Its database stays at
 * the default, under the storage root: conmon's exit command (`podman
 * container cleanup`, which records the exit) is given --root and looks
 * there; a static_dir elsewhere left it finding no container, and every
 * foreground run waited out podman's 20 s conmon timeout.
 */
export class PrivatePodman {
  constructor(
    readonly dir: string,
    mayu: string,
  ) {
    mkdirSync(join(dir, 'cni'), { recursive: true });
    writeFileSync(
      join(dir, 'containers.conf'),
      `[containers]
netns = "none"
log_driver = "k8s-file"

[engine]
runtime = "mayu"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
volume_path = "${dir}/volumes"
runtime_supports_json = ["mayu", "runc", "crun"]
runtime_supports_kvm = ["mayu"]

[engine.runtimes]
mayu = ["${mayu}"]

[network]
network_config_dir = "${dir}/cni"
`,
    );
    // Nothing is pulled: no registry to search, short names resolve to the images loaded here.
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n');
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/storage"\n`);
  }

  private get env(): NodeJS.ProcessEnv {
    return {
      CONTAINERS_CONF: join(this.dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(this.dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(this.dir, 'registries.conf'),
      XDG_RUNTIME_DIR: join(this.dir, 'xdg'),
    };
  }

  run(args: string[], input?: string): Promise<CliResult> {
    return run('podman', args, { env: this.env, input });
  }

  async cleanup(): Promise<void> {
    await this.run(['rm', '--all', '--force', '--time', '0']);
    await sweep(this.dir);
  }
}

/**
 * dockerd (Debian's docker.io 20.10), private to a test: its data, exec root,
 * socket and pid file under DIR, no bridge, no iptables, its own managed
 * containerd; `runtimes` (name → executable) added to it (daemon.json).
 */
export class PrivateDocker {
  private daemon: ChildProcess | null = null;

  constructor(
    readonly dir: string,
    private readonly runtimes: Record<string, string>,
  ) {}

  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'daemon.json'), JSON.stringify({ runtimes: Object.fromEntries(Object.entries(this.runtimes).map(([name, path]) => [name, { path }])) }));
    const log = join(this.dir, 'dockerd.log');
    this.daemon = spawn(
      '/usr/sbin/dockerd',
      [
        '--config-file',
        join(this.dir, 'daemon.json'),
        '--data-root',
        join(this.dir, 'data'),
        '--exec-root',
        join(this.dir, 'exec'),
        '--pidfile',
        join(this.dir, 'docker.pid'),
        '--host',
        `unix://${this.socket}`,
        '--bridge=none',
        '--iptables=false',
        '--ip-forward=false',
        '--ip-masq=false',
        '--storage-driver',
        'vfs',
        '--exec-opt',
        'native.cgroupdriver=cgroupfs',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let text = '';
    this.daemon.stderr?.on('data', (c: Buffer) => {
      text += c.toString();
      writeFileSync(log, text);
    });
    const deadline = Date.now() + 60_000;
    while ((await this.run(['version'])).code !== 0) {
      if (this.daemon.exitCode !== null || Date.now() > deadline) throw new Error(`dockerd did not start: ${text.slice(-2000)}`);
      await sleep(250);
    }
  }

  /** The docker client of the same version (Debian's: a newer client may be first on PATH). */
  run(args: string[], input?: string): Promise<CliResult> {
    return run('/usr/bin/docker', ['--host', `unix://${this.socket}`, ...args], { input });
  }

  startClient(args: string[]): ChildProcess {
    return spawn('/usr/bin/docker', ['--host', `unix://${this.socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async cleanup(): Promise<void> {
    if (this.daemon && this.daemon.exitCode === null) {
      await this.run(['rm', '--force', ...(await this.run(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]);
      const pid = existsSync(join(this.dir, 'docker.pid')) ? Number(readFileSync(join(this.dir, 'docker.pid'), 'utf8')) : this.daemon.pid;
      if (pid) await terminate(pid, 15_000).catch(() => {});
    }
    await sweep(this.dir);
  }
}
