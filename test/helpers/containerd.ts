import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeDirSafely } from '@mayu/runtime';
import { REPO_ROOT, TEST_TEMPLATE_DIR } from './guest-factory.js';
import { isolatedBridge, writeConflist } from './cni.js';
import { entriesOf as entries, processesMentioning } from './leftovers.js';
import type { CliResult } from './run-cli.js';
import { assertNothingLeft, daemonLeftovers, endDaemon, keepFailedLog, SHIM_SOCKET_DIR } from './daemon.js';
import { namedImageArchive } from './test-image.js';

/** Network namespaces the CRI plugin creates for pods. */
const NETNS_DIR = '/var/run/netns';

/** The images the harness imports, built locally (no registry is reachable). */
export const EXAMPLE_IMAGE = 'mayu.local/example:1';
export const PAUSE_IMAGE = 'mayu.local/pause:1';
/** The example image plus the host's iproute2 and iptables (CRI namespace only): network tooling in a pod. */
export const NET_TOOLS_IMAGE = 'mayu.local/net-tools:1';
export const MAYU_RUNTIME = 'io.containerd.mayu.v2';

/** The containerd versions the tests run: Debian 12's (the host's), trixie's and sid's (scripts/fetch-containerd). */
export const CONTAINERD_VERSIONS = ['1.6', '1.7', '2.1'] as const;
export type ContainerdVersion = (typeof CONTAINERD_VERSIONS)[number];

/**
 * The versions the containerd and CRI suites run on: every one, or those
 * MAYU_CONTAINERD_VERSIONS names (comma-separated: 1.6,2.1) for a shorter run.
 */
export function containerdMatrix(): ContainerdVersion[] {
  const asked = process.env.MAYU_CONTAINERD_VERSIONS?.split(',').map((v) => v.trim());
  if (!asked) return [...CONTAINERD_VERSIONS];
  for (const v of asked) assert.ok((CONTAINERD_VERSIONS as readonly string[]).includes(v), `MAYU_CONTAINERD_VERSIONS: ${v} is not one of ${CONTAINERD_VERSIONS.join(', ')}`);
  return asked as ContainerdVersion[];
}

/** Where a containerd version's binaries are: the host's for 1.6, else the cache (fetched once by scripts/fetch-containerd). */
export function containerdBinDir(version: ContainerdVersion): string {
  if (version === '1.6') return '/usr/bin';
  const r = spawnSync(join(REPO_ROOT, 'scripts/fetch-containerd'), [version], { encoding: 'utf8' });
  assert.equal(r.status, 0, `containerd ${version} for the tests: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export interface ContainerdOptions {
  /** Which containerd (default 1.6, the host's). */
  version?: ContainerdVersion;
  /** Where containerd finds containerd-shim-mayu-v2 (default: the repo's node_modules/.bin). */
  shimDir?: string;
  /** The guest image the shims use (default: the one the build made). */
  guestImageDir?: string;
  /** More lines for the shims' mayu configuration's [runtime] table (e.g. `host_namespaces = "vm"`). */
  runtimeToml?: string;
  /** More tables for the shims' mayu configuration (e.g. `[agent]` health checks). */
  extraToml?: string;
}

/**
 * A private containerd for tests: its own config, sockets, root and state
 * under a /run/mayu-test-ctrd-* directory (so the run-wide guard sees its
 * VMs), a bridge CNI network of its own, the `mayu` runtime for CRI and the
 * shim from node_modules/.bin on its PATH. `stop()` ends it by PID and then
 * asserts that no shim, QEMU process, mount, shim socket or pod network
 * namespace of it is left.
 */
export class PrivateContainerd {
  readonly dir: string;
  readonly address: string;
  /** The mayu configuration the shims use (state under `dir`). */
  readonly mayuConfig: string;
  readonly bridge: string;
  /** Where this containerd (1.7+) finds CDI specs: the tests write theirs here. */
  readonly cdiDir: string;
  private child: ChildProcess | undefined;
  private readonly socketsBefore: Set<string>;
  private readonly netnsBefore: Set<string>;

  readonly version: ContainerdVersion;
  /** Where this version's containerd, ctr and runc shim are. */
  private readonly binDir: string;

  private constructor(private readonly o: ContainerdOptions) {
    this.version = o.version ?? '1.6';
    this.binDir = containerdBinDir(this.version);
    this.dir = mkdtempSync('/run/mayu-test-ctrd-');
    this.address = join(this.dir, 'containerd.sock');
    this.mayuConfig = join(this.dir, 'mayu.toml');
    this.cdiDir = join(this.dir, 'cdi');
    this.bridge = `mayu-t${randomBytes(3).toString('hex')}`;
    this.socketsBefore = new Set(entries(SHIM_SOCKET_DIR));
    this.netnsBefore = new Set(entries(NETNS_DIR));
  }

  /** Starts containerd and imports the example and pause images (both namespaces the tests use). */
  static async start(o: ContainerdOptions = {}): Promise<PrivateContainerd> {
    const ctrd = new PrivateContainerd(o);
    try {
      ctrd.writeConfig();
      await ctrd.launch();
      await ctrd.importImages();
    } catch (err) {
      await ctrd.stop().catch(() => {});
      throw err;
    }
    return ctrd;
  }

  private writeConfig(): void {
    const d = this.dir;
    const backend = process.env.MAYU_HYPERVISOR ? `hypervisor = "${process.env.MAYU_HYPERVISOR}"\n` : '';
    const imageDir = this.o.guestImageDir || backend ? `[sandbox]\n${backend}${this.o.guestImageDir ? `guest_image_dir = "${this.o.guestImageDir}"\n` : ''}` : '';
    writeFileSync(this.mayuConfig, `[runtime]\nstate_dir = "${join(d, 'mayu')}"\n${this.o.runtimeToml ?? ''}\n[factory]\ntemplate_dir = "${TEST_TEMPLATE_DIR}"\n${imageDir}${this.o.extraToml ?? ''}`);
    mkdirSync(join(d, 'cni-conf'), { recursive: true });
    mkdirSync(this.cdiDir, { recursive: true });
    const subnet = `10.233.${72 + ((randomBytes(1)[0] ?? 0) % 100)}.0/24`;
    writeConflist(join(d, 'cni-conf', '10-mayu-test.conflist'), 'mayu-test', [isolatedBridge(this.bridge, { subnet }, join(d, 'cni-ipam'))]);
    writeFileSync(join(d, 'config.toml'), this.version === '2.1' ? this.configV3() : this.configV2());
  }

  /** The runtimes CRI knows (runc the default, mayu by handler) under `table` (the CRI runtime plugin's containerd table). */
  private criRuntimes(table: string): string[] {
    return [
      `[${table}]`,
      '  default_runtime_name = "runc"',
      `[${table}.runtimes.runc]`,
      '  runtime_type = "io.containerd.runc.v2"',
      `[${table}.runtimes.mayu]`,
      `  runtime_type = "${MAYU_RUNTIME}"`,
      '  pod_annotations = ["io.mayu.*"]',
      '  privileged_without_host_devices = true',
      `[${table}.runtimes.mayu.options]`,
      `  ConfigPath = "${this.mayuConfig}"`,
      // containerd 2.x only: the same shim driven through the Sandbox API (no pause container). No options table:
      // containerd 2.1 fails every container of such a pod whose runtime has options other than runc's (containerd
      // PR 13360), so the shims take their configuration from MAYU_CONFIG in containerd's environment.
      ...(this.version === '2.1'
        ? [`[${table}.runtimes.mayu-sandbox]`, `  runtime_type = "${MAYU_RUNTIME}"`, '  sandboxer = "shim"', '  pod_annotations = ["io.mayu.*"]', '  privileged_without_host_devices = true']
        : []),
    ];
  }

  /** What every version's configuration has: its own root, state and sockets. */
  private configCommon(version: number): string[] {
    const d = this.dir;
    return [
      `version = ${version}`,
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${this.address}"`,
      '[ttrpc]',
      `  address = "${this.address}.ttrpc"`,
    ];
  }

  /** containerd 1.6 and 1.7: config version 2, the CRI plugin in one table. */
  private configV2(): string {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    return [
      ...this.configCommon(2),
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${this.dir}/opt"`,
      `[${cri}]`,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  restrict_oom_score_adj = true',
      // CDI (1.7+): the tests' own spec directory, never the host's /etc/cdi.
      ...(this.version === '1.6' ? [] : ['  enable_cdi = true', `  cdi_spec_dirs = ["${this.cdiDir}"]`]),
      ...this.criRuntimes(`${cri}.containerd`),
      `[${cri}.cni]`,
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = "${this.dir}/cni-conf"`,
      '',
    ].join('\n');
  }

  /** containerd 2.x: config version 3, CRI's runtime and image plugins apart. */
  private configV3(): string {
    const runtime = 'plugins."io.containerd.cri.v1.runtime"';
    return [
      ...this.configCommon(3),
      '[plugins."io.containerd.cri.v1.images".pinned_images]',
      `  sandbox = "${PAUSE_IMAGE}"`,
      `[${runtime}]`,
      '  restrict_oom_score_adj = true',
      '  enable_cdi = true',
      `  cdi_spec_dirs = ["${this.cdiDir}"]`,
      ...this.criRuntimes(`${runtime}.containerd`),
      `[${runtime}.cni]`,
      '  bin_dirs = ["/usr/lib/cni"]',
      `  conf_dir = "${this.dir}/cni-conf"`,
      '',
    ].join('\n');
  }

  private async launch(): Promise<void> {
    const log = openSync(join(this.dir, 'containerd.log'), 'a');
    try {
      this.child = spawn(join(this.binDir, 'containerd'), ['--config', join(this.dir, 'config.toml')], {
        cwd: this.dir,
        // npm puts node_modules/.bin on PATH; only shimDir may provide the shim. The version's own binaries (its runc shim) come next.
        env: {
          ...process.env,
          MAYU_CONFIG: this.mayuConfig,
          PATH: [this.o.shimDir ?? join(REPO_ROOT, 'node_modules/.bin'), this.binDir, ...(process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules'))].join(':'),
        },
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<never>((_, reject) => this.child?.once('exit', (code) => reject(new Error(`containerd exited (${code}); see ${this.dir}/containerd.log`))));
    exited.catch(() => {});
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (existsSync(this.address) && (await this.ctr(['version'])).code === 0) return;
      await Promise.race([sleep(200), exited]);
    }
    throw new Error('containerd did not answer within 30 s');
  }

  private async importImages(): Promise<void> {
    for (const [name, extra, namespaces] of [
      [EXAMPLE_IMAGE, [], ['default', 'k8s.io']],
      [PAUSE_IMAGE, ['--pause'], ['default', 'k8s.io']],
      [NET_TOOLS_IMAGE, ['--net-tools'], ['k8s.io']],
    ] as const) {
      const archive = namedImageArchive(name, extra);
      for (const ns of namespaces) {
        const r = await this.ctr(['images', 'import', '--base-name', name.split(':')[0] ?? name, archive], { namespace: ns });
        assert.equal(r.code, 0, `ctr images import ${name}: ${r.stderr}`);
      }
    }
  }

  /** Runs `ctr` against this containerd. */
  ctr(args: string[], o: { namespace?: string; input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliResult> {
    const child = this.startCtr(args, o.namespace);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    // ctr may exit before it reads its input (it failed, or the task ignored stdin): EPIPE is its answer, not ours.
    child.stdin?.on('error', () => {});
    child.stdin?.end(o.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    return new Promise((resolve) =>
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      }),
    );
  }

  /** Starts `ctr` (for streams such as `ctr events`); the caller ends it. */
  startCtr(args: string[], namespace = 'default'): ChildProcess {
    return spawn(join(this.binDir, 'ctr'), ['--address', this.address, '--namespace', namespace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** containerd's own PID (undefined once it has exited). */
  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** PIDs of this containerd's mayu shims and of its VMs' QEMU processes. */
  shims(): number[] {
    return processesMentioning(this.address)
      .filter((p) => p.cmdline.includes('containerd-shim-mayu-v2'))
      .map((p) => p.pid);
  }

  vms(): number[] {
    return processesMentioning(join(this.dir, 'mayu'))
      .filter((p) => p.cmdline.includes('qemu-system'))
      .map((p) => p.pid);
  }

  /** Waits up to `ms` for its shims and VMs to exit (they wind down after a task's delete). */
  async settle(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while ((this.shims().length > 0 || this.vms().length > 0) && Date.now() < deadline) await sleep(100);
  }

  /** Kills containerd by PID with SIGKILL (its shims live on); `start` brings it back on the same state. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  /** Starts containerd again after kill(), on the same configuration, root and state. */
  async restart(): Promise<void> {
    await this.launch();
  }

  /** Stops containerd by PID, keeps its log when asked, and checks that nothing of it is left. */
  async stop(keepLogAs?: string): Promise<void> {
    if (keepLogAs) keepFailedLog(join(this.dir, 'containerd.log'), keepLogAs);
    // Shims outlive containerd by design; give the ones still winding down a moment.
    await this.settle(5000);
    await endDaemon(this.child, 10_000);
    const left = daemonLeftovers(this.dir, this.socketsBefore);
    const netns = entries(NETNS_DIR).filter((n) => !this.netnsBefore.has(n) && n.startsWith('cni-'));
    // Reported below, but not left for the next run.
    for (const name of left.sockets) rmSync(join(SHIM_SOCKET_DIR, name), { force: true });
    for (const name of netns) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' });
    removeDirSafely(this.dir);
    assertNothingLeft(left);
    assert.deepEqual(netns, [], `network namespaces left behind in ${NETNS_DIR}`);
  }
}
