import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criWire } from '@mayu/protocol';
import { removeDirSafely } from '@mayu/runtime';
import { EXAMPLE_IMAGE, PAUSE_IMAGE } from './containerd.js';
import { isolatedBridge, writeConflist } from './cni.js';
import { CriClient } from './cri-client.js';
import { assertNothingLeft, daemonLeftovers, endDaemon, keepFailedLog, SHIM_SOCKET_DIR } from './daemon.js';
import { REPO_ROOT, TEST_TEMPLATE_DIR } from './guest-factory.js';
import { entriesOf, processesMentioning, removeCgroupTree } from './leftovers.js';
import { MAYU_RUNTIME_BIN } from './oci-runtime.js';
import { namedImageArchive } from './test-image.js';

/** cri-o's runtime handlers for mayu: mayu-runtime (`oci`) and the shim (`vm`), each with the refusing configuration and with host_namespaces = "vm". */
export const CRIO_HANDLERS = { oci: 'mayu', vm: 'mayu-vm', ociHostNs: 'mayu-hostns', vmHostNs: 'mayu-vm-hostns' } as const;

/**
 * The cri-o build the workplace keeps (scripts/fetch-crio unpacks it into the
 * cache): its directory, or null and why there is none. A clone without the
 * workplace's shared tools has none; CI always has it.
 */
export function crioDir(): { dir: string } | { missing: string } {
  const r = spawnSync(join(REPO_ROOT, 'scripts/fetch-crio'), { encoding: 'utf8' });
  return r.status === 0 ? { dir: r.stdout.trim() } : { missing: r.stderr.trim() };
}

export interface CrioOptions {
  /** cri-o's drop_infra_ctr (its default: true). */
  dropInfra?: boolean;
}

/**
 * A private cri-o 1.26 for tests, as the workplace's README says to run one:
 * its own root, run root, socket, config and config dir under a
 * /run/mayu-test-crio-* directory, vfs storage with the test images pulled
 * from local archives (nothing from a registry), and a network namespace of
 * its own — the "node's" namespace as cri-o sees it — with a CNI bridge in
 * it (no gateway, no masquerade: no route out). Four mayu handlers: the
 * mayu-runtime command line and the shim, each with the default
 * configuration (host namespaces refused) and with host_namespaces = "vm"
 * (selected by --config, and by cri-o's runtime_config_path for the shim).
 * `stop()` ends it by PID and asserts that nothing of it is left: no
 * process, mount, shim socket, tap or namespace.
 */
export class PrivateCrio {
  readonly dir: string;
  readonly socket: string;
  /** The node's network namespace (cri-o's), by name and path. */
  readonly netns: string;
  readonly netnsPath: string;
  /** The cgroup its pods go under (kubelet's /kubepods): conmon's and the pods' cgroups, removed when it stops. */
  readonly cgroupParent: string;
  readonly bridge: string;
  readonly cri: CriClient;
  private child: ChildProcess | undefined;
  private readonly socketsBefore: Set<string>;

  private constructor(private readonly o: CrioOptions) {
    this.dir = mkdtempSync('/run/mayu-test-crio-');
    this.socket = join(this.dir, 'crio.sock');
    const tag = randomBytes(3).toString('hex');
    this.netns = `mayu-crio-${tag}`;
    this.netnsPath = `/run/netns/${this.netns}`;
    this.cgroupParent = `/mayu-test-crio-${tag}`;
    this.bridge = `mayu-c${tag}`;
    this.socketsBefore = new Set(entriesOf(SHIM_SOCKET_DIR));
    this.cri = new CriClient(this.socket);
  }

  static async start(o: CrioOptions = {}): Promise<PrivateCrio> {
    const found = crioDir();
    if ('missing' in found) throw new Error(`cri-o for the tests: ${found.missing}`);
    const bin = found.dir;
    const crio = new PrivateCrio(o);
    try {
      execFileSync('ip', ['netns', 'add', crio.netns]);
      execFileSync('ip', ['-n', crio.netns, 'link', 'set', 'lo', 'up']);
      crio.writeConfig(bin);
      await crio.pullImages();
      await crio.launch(bin);
    } catch (err) {
      await crio.stop().catch(() => {});
      throw err;
    }
    return crio;
  }

  /** The mayu configuration of the handlers: state under DIR; `hostNamespaces` for the *-hostns ones. */
  private mayuConfig(name: string, hostNamespaces: 'refuse' | 'vm'): string {
    const path = join(this.dir, `${name}.toml`);
    writeFileSync(path, `[runtime]\nstate_dir = "${join(this.dir, 'mayu', name)}"\nhost_namespaces = "${hostNamespaces}"\n[factory]\ntemplate_dir = "${TEST_TEMPLATE_DIR}"\n`);
    return path;
  }

  private writeConfig(bin: string): void {
    const d = this.dir;
    for (const sub of ['lib', 'run', 'cni', 'log', 'keys', 'cdi', 'tmp', 'conf.d', 'shim']) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${d}/run/storage"\ngraphroot = "${d}/lib/storage"\n`);
    writeFileSync(join(d, 'registries.conf'), 'unqualified-search-registries = []\n');
    writeFileSync(join(d, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const subnet = `10.233.${20 + ((randomBytes(1)[0] ?? 0) % 40)}.0/24`;
    writeConflist(join(d, 'cni', '10-mayu-crio.conflist'), 'mayu-crio', [isolatedBridge(this.bridge, { subnet }, join(d, 'cni-ipam'))]);
    // cri-o wants a VM runtime's binary named containerd-shim-NAME-v2.
    const shim = join(d, 'shim', 'containerd-shim-mayu-v2');
    symlinkSync(join(REPO_ROOT, 'node_modules/.bin/containerd-shim-mayu-v2'), shim);
    const runtimes = (
      [
        [CRIO_HANDLERS.oci, 'oci', 'refuse'],
        [CRIO_HANDLERS.ociHostNs, 'oci', 'vm'],
        [CRIO_HANDLERS.vm, 'vm', 'refuse'],
        [CRIO_HANDLERS.vmHostNs, 'vm', 'vm'],
      ] as const
    ).flatMap(([name, type, hostNs]) => {
      const config = this.mayuConfig(name, hostNs);
      const common = [`[crio.runtime.runtimes.${name}]`, `runtime_type = "${type}"`, `runtime_root = "${d}/run/${name}"`];
      // cri-o takes runtime_config_path for a VM runtime only: mayu-runtime gets --config from a wrapper.
      if (type === 'vm') return [...common, `runtime_path = "${shim}"`, `runtime_config_path = "${config}"`, 'privileged_without_host_devices = true'];
      const wrapper = join(d, `${name}-runtime`);
      writeFileSync(wrapper, `#!/bin/sh\nexec ${MAYU_RUNTIME_BIN} --config ${config} "$@"\n`);
      chmodSync(wrapper, 0o755);
      return [...common, `runtime_path = "${wrapper}"`];
    });
    writeFileSync(
      join(d, 'crio.conf'),
      [
        '[crio]',
        `root = "${d}/lib/storage"`,
        `runroot = "${d}/run/storage"`,
        'storage_driver = "vfs"',
        `log_dir = "${d}/log/pods"`,
        `version_file = "${d}/run/version"`,
        `version_file_persist = "${d}/lib/version"`,
        `clean_shutdown_file = "${d}/lib/clean.shutdown"`,
        '[crio.api]',
        `listen = "${this.socket}"`,
        'stream_address = "127.0.0.1"',
        'stream_port = "0"',
        '[crio.runtime]',
        `default_runtime = "${CRIO_HANDLERS.oci}"`,
        'cgroup_manager = "cgroupfs"',
        'conmon = "/usr/bin/conmon"',
        'conmon_cgroup = "pod"',
        `pinns_path = "${join(bin, 'pinns')}"`,
        `namespaces_dir = "${d}/run/ns"`,
        `container_exits_dir = "${d}/run/exits"`,
        `container_attach_socket_dir = "${d}/run"`,
        `drop_infra_ctr = ${this.o.dropInfra ?? true}`,
        'selinux = false',
        'apparmor_profile = "unconfined"',
        'hooks_dir = []',
        `cdi_spec_dirs = ["${d}/cdi"]`,
        'irqbalance_config_restore_file = "disable"',
        `decryption_keys_path = "${d}/keys"`,
        ...runtimes,
        '[crio.image]',
        `pause_image = "${PAUSE_IMAGE}"`,
        'pause_command = ""',
        `signature_policy = "${d}/policy.json"`,
        `big_files_temporary_dir = "${d}/tmp"`,
        '[crio.network]',
        `network_dir = "${d}/cni/"`,
        'plugin_dirs = ["/usr/lib/cni"]',
        '[crio.metrics]',
        'enable_metrics = false',
        '',
      ].join('\n'),
    );
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, CONTAINERS_STORAGE_CONF: join(this.dir, 'storage.conf'), CONTAINERS_REGISTRIES_CONF: join(this.dir, 'registries.conf') };
  }

  /** The test images into cri-o's store, from local archives (podman on the same vfs store). */
  private async pullImages(): Promise<void> {
    for (const [name, extra] of [
      [EXAMPLE_IMAGE, []],
      [PAUSE_IMAGE, ['--pause']],
    ] as const) {
      const archive = namedImageArchive(name, extra);
      const r = spawnSync('podman', ['--root', join(this.dir, 'lib/storage'), '--runroot', join(this.dir, 'run/storage'), '--storage-driver', 'vfs', 'pull', '-q', `oci-archive:${archive}`], {
        env: this.env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `podman pull oci-archive:${archive}: ${r.stderr}`);
    }
  }

  /**
   * cri-o in its network namespace: by nsenter, which leaves the mount
   * namespace alone (`ip netns exec` mounts a new /sys, and cri-o then finds
   * no cgroup hierarchy).
   */
  private async launch(bin: string): Promise<void> {
    const log = openSync(join(this.dir, 'crio.log'), 'a');
    try {
      this.child = spawn('nsenter', [`--net=${this.netnsPath}`, '--', join(bin, 'crio'), '--config', join(this.dir, 'crio.conf'), '--config-dir', join(this.dir, 'conf.d')], {
        cwd: this.dir,
        env: this.env,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<never>((_, reject) => this.child?.once('exit', (code) => reject(new Error(`cri-o exited (${code}); see ${this.dir}/crio.log`))));
    exited.catch(() => {});
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (existsSync(this.socket)) {
        const ok = await this.cri.version({ version: 'v1' }).then(
          () => true,
          () => false,
        );
        if (ok) return;
      }
      await Promise.race([sleep(200), exited]);
    }
    throw new Error(`cri-o did not answer within 60 s; see ${this.dir}/crio.log`);
  }

  /**
   * A pod sandbox config as kubelet writes one: a PID namespace per container
   * (kubelet's default; shareProcessNamespace asks for POD), with
   * `namespaceOptions` over it (hostNetwork and the like).
   */
  podConfig(name: string, namespaceOptions: Partial<criWire.NamespaceOption> = {}): criWire.PodSandboxConfig {
    namespaceOptions = { pid: criWire.NamespaceMode.CONTAINER, ...namespaceOptions };
    return criWire.PodSandboxConfig.fromPartial({
      metadata: { name, uid: `uid-${name}-${randomBytes(3).toString('hex')}`, namespace: 'default', attempt: 0 },
      hostname: name,
      logDirectory: join(this.dir, 'pod-logs', name),
      linux: { cgroupParent: `${this.cgroupParent}/pod-${name}`, securityContext: { namespaceOptions: criWire.NamespaceOption.fromPartial(namespaceOptions), privileged: false } },
    });
  }

  /** Creates and starts a container of the example image in a pod, running `command`, with the pod's namespace options; its id. */
  async container(pod: { id: string; config: criWire.PodSandboxConfig }, name: string, command: string[], resources?: Partial<criWire.LinuxContainerResources>): Promise<string> {
    const namespaceOptions = pod.config.linux?.securityContext?.namespaceOptions;
    const { containerId } = await this.cri.createContainer({
      podSandboxId: pod.id,
      config: criWire.ContainerConfig.fromPartial({
        metadata: { name, attempt: 0 },
        image: { image: EXAMPLE_IMAGE },
        command,
        logPath: `${name}.log`,
        linux: { securityContext: { namespaceOptions }, ...(resources ? { resources: criWire.LinuxContainerResources.fromPartial(resources) } : {}) },
      }),
      sandboxConfig: pod.config,
    });
    await this.cri.startContainer({ containerId });
    return containerId;
  }

  /** Stops and removes a pod (its containers go with it), as kubelet does. */
  async removePod(id: string): Promise<void> {
    await this.cri.stopPodSandbox({ podSandboxId: id });
    await this.cri.removePodSandbox({ podSandboxId: id });
  }

  /**
   * An HTTP GET of `port` in a pod through CRI's PortForward and cri-o's
   * streaming server (on 127.0.0.1 in cri-o's namespace: the client runs
   * there): what came back.
   */
  async portForwardGet(podSandboxId: string, port: number): Promise<string> {
    const { url } = await this.cri.portForward({ podSandboxId, port: [port] });
    const client = spawnSync('nsenter', [`--net=${this.netnsPath}`, '--', process.execPath, join(REPO_ROOT, 'test/dist/helpers/forward-get.js'), url, String(port)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return `${client.stdout}${client.stderr}`;
  }

  /** The VMs (QEMU) of this cri-o's pods. */
  vms(): number[] {
    return processesMentioning(join(this.dir, 'mayu'))
      .filter((p) => p.cmdline.startsWith('qemu'))
      .map((p) => p.pid);
  }

  /** What runs for this cri-o's pods: conmon, holders, pod keepers, shims, QEMU — everything of it but cri-o. */
  podProcesses(): string[] {
    return processesMentioning(this.dir)
      .filter((p) => p.pid !== this.child?.pid)
      .map((p) => p.cmdline);
  }

  /** Waits up to `ms` for the processes of removed pods to end. */
  async settle(ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.podProcesses().length > 0 && Date.now() < deadline) await sleep(100);
  }

  /** mayu's taps in the node's namespace (there should never be any: pods' taps are in their own). */
  private taps(): string[] {
    return spawnSync('nsenter', [`--net=${this.netnsPath}`, 'ip', '-o', 'link', 'show'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes('_mayu'));
  }

  /**
   * After pods are removed: their processes end (conmon, holders, keepers,
   * shims, QEMU) and nothing of them is left — no state under the handlers'
   * roots or mayu's state directories, no tap in the node's namespace, no
   * shim socket.
   */
  async assertPodsGone(): Promise<void> {
    await this.settle();
    assert.deepEqual(this.podProcesses(), [], 'processes of removed pods left running');
    for (const handler of Object.values(CRIO_HANDLERS)) {
      assert.deepEqual(
        entriesOf(join(this.dir, 'run', handler)).filter((e) => !e.startsWith('crio')),
        [],
        `state left under ${handler}'s runtime root`,
      );
      assert.deepEqual(entriesOf(join(this.dir, 'mayu', handler, 'sandboxes')), [], `sandboxes left in ${handler}'s state directory`);
    }
    assert.deepEqual(this.taps(), [], "taps left in the node's namespace");
    assert.deepEqual(
      entriesOf(SHIM_SOCKET_DIR).filter((s) => !this.socketsBefore.has(s)),
      [],
      `shim sockets left in ${SHIM_SOCKET_DIR}`,
    );
  }

  /** Stops cri-o by PID, keeps its log when asked, and checks that nothing of it is left. */
  async stop(keepLogAs?: string): Promise<void> {
    this.cri.close();
    if (keepLogAs) keepFailedLog(join(this.dir, 'crio.log'), keepLogAs);
    await this.settle(5000);
    await endDaemon(this.child, 15_000);
    const left = daemonLeftovers(this.dir, this.socketsBefore);
    for (const m of [...left.mounts].reverse()) spawnSync('umount', ['-l', m]);
    const taps = existsSync(this.netnsPath) ? this.taps() : [];
    spawnSync('ip', ['netns', 'delete', this.netns], { stdio: 'ignore' });
    removeDirSafely(this.dir);
    const busyCgroups = removeCgroupTree(this.cgroupParent);
    assertNothingLeft(left);
    assert.deepEqual(busyCgroups, [], "processes left in the pods' cgroups");
    assert.deepEqual(taps, [], "taps left in the node's namespace");
  }
}
