import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isPodSandbox, POD_ANNOTATIONS, podRoleOf, type PodRole } from '@mayu/protocol';
import { loadConfig, mayGrowMemory, processStartTime, resolveHostNamespaces, Sandbox, vmSizeFromSpec, type RunNetwork } from '@mayu/runtime';
import type { Logger } from 'pino';
import type { RunRequest } from '../../run/container-session.js';
import { RuntimeCliError } from '../errors.js';
import type { HolderRequest } from '../holder.js';
import { awaitReport, type Report } from '../report.js';
import { takeHooks } from '../hooks.js';
import type { GlobalOptions } from '../globals.js';
import { podOfKeeper } from '../pod-keeper.js';
import { claimContainerDir, containerDir, currentStatus, readRecord, removeContainerDir, writeRecord, type ContainerRecord, type PodRef } from '../state.js';
import { cleanUpAfterHolder, destroyContainer, waitHolderGone } from './lifecycle.js';

/** Writes FILE as runc does: whole or not at all (a temporary beside it, renamed). */
export function writePidFile(file: string, pid: number): void {
  const path = resolve(file);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}`);
  writeFileSync(tmp, String(pid), { mode: 0o644 });
  renameSync(tmp, path);
}

interface BundleSpec {
  spec: Record<string, unknown>;
  rootfs: string;
  terminal: boolean;
}

/** Reads BUNDLE/config.json; its root.path is relative to the bundle ("." is the bundle itself). */
export function readBundle(bundle: string): BundleSpec {
  const file = join(bundle, 'config.json');
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new RuntimeCliError(`cannot read the bundle's config.json (${file}): ${(err as Error).message}`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new RuntimeCliError(`${file}: must be a JSON object`);
  const root = spec.root as { path?: unknown } | undefined;
  if (typeof root?.path !== 'string' || root.path === '') throw new RuntimeCliError(`${file}: root.path must be a path (relative to the bundle), not ${JSON.stringify(root?.path)}`);
  return { spec, rootfs: resolve(bundle, root.path), terminal: Boolean((spec.process as { terminal?: boolean } | undefined)?.terminal) };
}

/** A network namespace the engine made (podman's, a CNI plugin's, cri-o's pin): the VM's NICs are wired from it. */
export function networkOf(spec: Record<string, unknown>): RunNetwork {
  const namespaces = ((spec.linux as { namespaces?: { type?: string; path?: string }[] } | undefined)?.namespaces ?? []).filter((ns) => ns.type === 'network');
  const netnsPath = namespaces.find((ns) => typeof ns.path === 'string' && ns.path !== '')?.path;
  return netnsPath ? { kind: 'ns', path: netnsPath } : { kind: 'none' };
}

/** cri-o's pod annotation: only cri-o drops a pod's sandbox container. */
const CRIO_SANDBOX_ID = POD_ANNOTATIONS[0].sandbox;

/**
 * The running pod a container joins, when its annotations (cri-o's,
 * containerd CRI's) say it is one of a pod's other containers: the VM of the
 * pod's sandbox container (or keeper), created earlier under the same
 * --root; null when there is none yet (see createCommand).
 */
function existingPod(root: string, role: Extract<PodRole, { kind: 'member' }>): { pod: PodRef; holderPid: number } | null {
  const dir = containerDir(root, role.sandboxId);
  const sandbox = readRecord(dir);
  // A keeper still booting is waited for by podOfKeeper.
  if (!sandbox || (sandbox.keeper && sandbox.status === 'creating')) return null;
  const status = currentStatus(sandbox);
  if (sandbox.pod) throw new RuntimeCliError(`${role.annotation}: ${role.sandboxId} is itself a member of pod ${sandbox.pod.sandboxId}, not a pod's sandbox container`);
  if (status === 'stopped' || status === 'creating' || !sandbox.sandboxDir)
    throw new RuntimeCliError(`the pod's sandbox container ${role.sandboxId} (annotation ${role.annotation}) is ${status}: its VM is not running`);
  return { pod: { sandboxId: sandbox.sandboxId, dir, sandboxDir: sandbox.sandboxDir }, holderPid: sandbox.pid };
}

/** Starts the holder and waits for its word: the container is created, or why not. */
/**
 * The holder's command line: it runs in the container's network namespace —
 * the engine's (nsenter), or a new empty one (unshare) — so that what enters
 * /proc/PID/ns/net (a prestart hook: Docker's libnetwork-setkey) reaches the
 * container's network, never the host's. nsenter and unshare exec: the PID
 * is the holder's.
 */
export function holderArgv(dir: string, network: RunNetwork): string[] {
  const holder = [process.execPath, process.argv[1] ?? '', '_holder', dir];
  return network.kind === 'ns' ? ['nsenter', `--net=${network.path}`, '--', ...holder] : ['unshare', '--net', '--', ...holder];
}

async function startHolder(dir: string, network: RunNetwork, terminal: boolean, onSpawn: (pid: number) => void): Promise<{ pid: number; report: Report }> {
  const [cmd, ...argv] = holderArgv(dir, network) as [string, ...string[]];
  // Its stdio is ours: the engine's pipes (or files) for the container — none with a terminal (the
  // pty carries it, and an engine may wait for EOF on what it gave create). It serves from / (a bundle may be removed under it).
  const stdio = terminal ? 'ignore' : 'inherit';
  const holder = spawn(cmd, argv, { detached: true, cwd: '/', stdio: [stdio, stdio, stdio, 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  const pid = holder.pid;
  if (pid === undefined) throw new RuntimeCliError('cannot start the container holder');
  onSpawn(pid);
  const report = await awaitReport(holder, `the container holder ended without a word (see ${join(dir, 'holder.log')} or --log)`);
  holder.unref();
  return { pid, report };
}

/**
 * mayu-runtime create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK]
 * [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID: boots the
 * container's VM and creates the container in it, not started. The PID
 * written is the holder's, which stays behind with this command's stdio.
 */
export async function createCommand(args: string[], g: GlobalOptions, log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      bundle: { type: 'string', short: 'b', default: '.' },
      'pid-file': { type: 'string' },
      'console-socket': { type: 'string' },
      'no-pivot': { type: 'boolean', default: false },
      'no-new-keyring': { type: 'boolean', default: false },
      'preserve-fds': { type: 'string', default: '0' },
    },
  });
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new RuntimeCliError('create needs exactly one argument: the container id');
  if (values['no-pivot']) log.info("--no-pivot: the container is set up by the guest's OCI runtime, which pivots as usual");
  if (values['no-new-keyring']) log.info("--no-new-keyring: accepted; session keyrings are the guest kernel's");
  if (values['preserve-fds'] !== '0') throw new RuntimeCliError(`--preserve-fds ${values['preserve-fds']}: descriptors cannot be passed into a VM`);
  const bundle = resolve(values.bundle);
  const b = readBundle(bundle);
  // runc's words, both ways round.
  if (b.terminal && !values['console-socket']) throw new RuntimeCliError('cannot allocate tty if runc will detach without setting console socket');
  if (!b.terminal && values['console-socket']) throw new RuntimeCliError('cannot use console socket if runc will not detach or allocate tty');
  // Hooks run here, on the host; the guest gets a spec without them.
  const hooks = takeHooks(b.spec);
  const role = podRoleOf(b.spec.annotations);
  const member = role.kind === 'member' ? existingPod(g.root, role) : null;
  // cri-o may drop a pod's sandbox container (drop_infra_ctr): its first container makes the pod's VM. containerd's CRI never does.
  if (role.kind === 'member' && !member && role.annotation !== CRIO_SANDBOX_ID)
    throw new RuntimeCliError(`the pod's sandbox container ${role.sandboxId} (annotation ${role.annotation}) does not exist`);
  // Here, in the engine's namespaces, the host's are told apart (the holder runs in the container's): refused, or the VM's.
  const config = loadConfig(g.configPath ?? undefined);
  const spec = resolveHostNamespaces(b.spec, config.runtime.hostNamespaces, {
    podTaskPid: member?.holderPid,
    onAccepted: (ask) => log.warn(`${ask.by}: the host's ${ask.type} namespace: the container gets the VM's (runtime.host_namespaces = "vm")`),
  });
  // A spec the guest cannot honour is refused before anything is started for it.
  Sandbox.checkContainerSpec(config, spec, { bundle, terminal: b.terminal });
  const network = networkOf(spec);
  let pod = member?.pod ?? null;
  if (role.kind === 'member' && !pod) {
    const hostname = typeof spec.hostname === 'string' && spec.hostname !== '' ? spec.hostname : 'mayu';
    pod = await podOfKeeper(g.root, role.sandboxId, { network, hostname, ...vmSizeFromSpec(spec, config.sandbox), growMemory: mayGrowMemory(spec), configPath: g.configPath, log: g.log }, log);
  }
  const dir = claimContainerDir(g.root, id);
  try {
    // A pod's VM serves the pod's port-forward: cri-o dials localhost:PORT in the pod's namespace, where nothing else listens.
    const req: RunRequest = { id, rootfs: b.rootfs, rootfsKind: 'bundle', bundle, spec, terminal: b.terminal, stdin: true, network, portForward: isPodSandbox(spec.annotations) };
    const consoleSocket = values['console-socket'] ? resolve(values['console-socket']) : undefined;
    const holderRequest: HolderRequest = { req, configPath: g.configPath, log: g.log, ...(consoleSocket ? { consoleSocket } : {}), ...(pod ? { pod } : {}) };
    writeFileSync(join(dir, 'request.json'), JSON.stringify(holderRequest), { mode: 0o600 });
    const record: ContainerRecord = {
      id,
      bundle,
      rootfs: b.rootfs,
      annotations: (b.spec.annotations ?? {}) as Record<string, string>,
      created: new Date().toISOString(),
      status: 'creating',
      pid: 0,
      pidStart: null,
      sandboxId: pod ? pod.sandboxId : id,
      sandboxDir: pod ? pod.sandboxDir : null,
      pod,
      configPath: g.configPath,
      network: null,
      exit: null,
      hooks,
      process: (b.spec.process ?? {}) as Record<string, unknown>,
    };
    writeRecord(dir, record);
    // The holder's PID is recorded before it can write (it updates the record once the VM is up).
    const { pid, report } = await startHolder(dir, network, b.terminal, (holderPid) => writeRecord(dir, { ...record, pid: holderPid, pidStart: processStartTime(holderPid) }));
    if (!report.ok) {
      // The holder removes what it made before it reports; one that died without a word is made sure of here.
      const last = readRecord(dir);
      if (last) {
        await waitHolderGone(last, log);
        await cleanUpAfterHolder(last, log);
      }
      throw new RuntimeCliError(report.error ?? 'the container was not created');
    }
    if (values['pid-file']) {
      try {
        writePidFile(values['pid-file'], pid);
      } catch (err) {
        await destroyContainer(dir, log);
        throw new RuntimeCliError(`cannot write --pid-file ${values['pid-file']}: ${(err as Error).message}`);
      }
    }
    return 0;
  } catch (err) {
    removeContainerDir(g.root, id);
    throw err;
  }
}
