import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMayuError } from '@mayu/protocol';
import { leaveStartingCgroup, loadConfig, processStartTime, removeSandbox, Sandbox, type RunNetwork } from '@mayu/runtime';
import type { Logger } from 'pino';
import { serveControl, type ControlRequest } from './control.js';
import { RuntimeCliError } from './errors.js';
import { createRuntimeLogger, type LogOptions } from './log.js';
import { addMember } from './pod.js';
import { awaitReport, sendReport } from './report.js';
import {
  claimContainerDir,
  containerDir,
  currentStatus,
  holderAlive,
  readRecord,
  removeContainerDir,
  updateRecord,
  validateContainerId,
  writeRecord,
  type ContainerRecord,
  type PodRef,
} from './state.js';

/** What the first container of a pod without a sandbox container leaves for the pod's keeper in ROOT/POD. */
export interface KeeperRequest {
  podId: string;
  /** The pod's network namespace (cri-o's pin), verified not the host's by create; none: lo only. */
  network: RunNetwork;
  hostname: string;
  vcpus: number;
  memoryMib: number;
  /** The pod's VM may have to grow its memory (see mayGrowMemory). */
  growMemory: boolean;
  configPath: string | null;
  log: LogOptions;
}

/** How long a keeper waits for its first member before it gives the VM up. */
const FIRST_MEMBER_TIMEOUT_MS = 60_000;
/** How long a container waits for another container's keeper of its pod to come up. */
const KEEPER_READY_TIMEOUT_MS = 120_000;

/**
 * The pod a container joins when cri-o dropped the pod's sandbox (infra)
 * container (drop_infra_ctr, a pod that shares no PID namespace): no
 * container stands for the pod, so its first container has a keeper made
 * for it — a host process, like a holder, that owns the pod's VM (its
 * network cri-o's pinned namespace; the pod's IPC and UTS namespaces the
 * agent's own) and creates the pod's containers in it; it ends, with the VM
 * and its state, when the pod's last container is deleted. Two containers
 * created at once make one keeper: the other waits for it.
 */
export async function podOfKeeper(root: string, podId: string, request: Omit<KeeperRequest, 'podId'>, log: Logger): Promise<PodRef> {
  let dir: string;
  try {
    dir = claimContainerDir(root, podId);
  } catch (err) {
    if (!(err instanceof RuntimeCliError) || !/exists/.test(err.message)) throw err;
    return waitForKeeper(root, podId);
  }
  try {
    writeFileSync(join(dir, 'request.json'), JSON.stringify({ ...request, podId } satisfies KeeperRequest), { mode: 0o600 });
    const record: ContainerRecord = {
      id: podId,
      keeper: true,
      bundle: '',
      rootfs: '',
      annotations: {},
      created: new Date().toISOString(),
      status: 'creating',
      pid: 0,
      pidStart: null,
      sandboxId: podId,
      sandboxDir: null,
      pod: null,
      configPath: request.configPath,
      network: null,
      exit: null,
      hooks: {},
      process: {},
    };
    writeRecord(dir, record);
    const keeper = spawn(process.execPath, [process.argv[1] ?? '', '_pod', dir], {
      detached: true,
      cwd: '/',
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    if (keeper.pid === undefined) throw new RuntimeCliError(`cannot start the keeper of pod ${podId}`);
    writeRecord(dir, { ...record, pid: keeper.pid, pidStart: processStartTime(keeper.pid) });
    const report = await awaitReport(keeper, `the keeper of pod ${podId} ended without a word (see ${join(dir, 'keeper.log')} or --log)`);
    keeper.unref();
    if (!report.ok) throw new RuntimeCliError(`cannot make the VM of pod ${podId}: ${report.error ?? 'no reason given'}`);
  } catch (err) {
    removeContainerDir(root, podId);
    throw err;
  }
  log.info({ podId }, "the pod has no sandbox container (cri-o's drop_infra_ctr): its VM is made for its first container");
  return keeperRef(root, podId);
}

function keeperRef(root: string, podId: string): PodRef {
  const record = readRecord(containerDir(root, podId));
  if (!record?.sandboxDir || currentStatus(record) !== 'running') throw new RuntimeCliError(`the VM of pod ${podId} is not running`);
  return { sandboxId: podId, dir: containerDir(root, podId), sandboxDir: record.sandboxDir };
}

/** Waits for the keeper another container of the pod is starting; its failure is this container's. */
async function waitForKeeper(root: string, podId: string): Promise<PodRef> {
  const deadline = Date.now() + KEEPER_READY_TIMEOUT_MS;
  for (;;) {
    const record = readRecord(containerDir(root, podId));
    if (!record) throw new RuntimeCliError(`the VM of pod ${podId}, which another of its containers was making, could not be made`);
    if (!record.keeper) throw new RuntimeCliError(`the pod's sandbox ${podId} is a container of its own, not a pod's VM`);
    // Its PID is recorded a moment after the record: until then it is starting.
    if (record.status === 'running' || (record.pid !== 0 && currentStatus(record) === 'stopped') || Date.now() > deadline) return keeperRef(root, podId);
    await sleep(100);
  }
}

/**
 * `mayu-runtime _pod DIR`: a pod's keeper (see podOfKeeper). It boots the
 * VM, reports, then serves add-member, remove-member and destroy on the
 * pod's control socket until its last member is removed (or none came), the
 * VM dies, or it is told to go; then the VM and ROOT/POD go too.
 */
export async function podKeeperCommand(args: string[]): Promise<number> {
  const [dir] = args;
  if (!dir) throw new RuntimeCliError('_pod needs the pod directory');
  const r = JSON.parse(readFileSync(join(dir, 'request.json'), 'utf8')) as KeeperRequest;
  const log = createRuntimeLogger(r.log.file ? r.log : { ...r.log, file: join(dir, 'keeper.log') }).child({ podId: r.podId });
  const config = loadConfig(r.configPath ?? undefined);
  let sandbox: Sandbox | null = null;
  const crash = (err: unknown): void => {
    log.fatal({ err }, 'the pod keeper crashed');
    sendReport({ error: `the pod keeper crashed: ${(err as Error).message}` });
    void (sandbox?.destroy() ?? Promise.resolve()).finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  // Started by the first container's create, it is in that container's cgroup (cri-o's conmon one), which goes with the container.
  const leftCgroup = leaveStartingCgroup(`mayu-pod-${r.podId}`, (cgroup, err) => log.warn({ err, cgroup }, 'cannot move the pod keeper out of its starting cgroup'));
  const members = new Set<string>();
  let end!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (end = resolve));
  try {
    sandbox = Sandbox.create({
      id: r.podId,
      config,
      log,
      hostname: r.hostname,
      vcpus: r.vcpus,
      memoryMib: r.memoryMib,
      growMemory: r.growMemory,
      ...(r.network.kind === 'ns' ? { network: { netns: r.network.path, portForward: true } } : {}),
    });
    await sandbox.start();
  } catch (err) {
    log.error({ err }, "cannot boot the pod's VM");
    sendReport({ error: (err as Error).message });
    leftCgroup();
    return 1;
  }
  const vm = sandbox;
  const server = await serveControl(dir, async (req: ControlRequest) => {
    if (req.op === 'destroy') return end('destroyed (delete --force)');
    if (req.op === 'update') {
      validateContainerId(req.id);
      return vm.updateContainer(req.id, req.resources);
    }
    if (req.op !== 'add-member' && req.op !== 'remove-member') throw new RuntimeCliError(`pod ${r.podId} has no container of its own: ${req.op} is for its containers`);
    validateContainerId(req.id);
    if (req.op === 'add-member') {
      await addMember(dir, vm, '', config, req.id);
      members.add(req.id);
    } else {
      try {
        await vm.removeContainer(req.id, 2000);
      } finally {
        members.delete(req.id);
        if (members.size === 0) end('its last container was deleted');
      }
    }
  });
  updateRecord(dir, { status: 'running', sandboxDir: vm.stateDir });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => end(`${sig}`));
  void vm.exited().then((exit) => end(`the VM exited: ${vm.exitReason(exit)}`));
  const idle = setTimeout(() => members.size === 0 && end(`no container joined within ${FIRST_MEMBER_TIMEOUT_MS / 1000} s`), FIRST_MEMBER_TIMEOUT_MS);
  sendReport({ ok: true });
  log.info({ event: 'pod.ready', sandboxDir: vm.stateDir }, "the pod's VM is up");
  const why = await ended;
  clearTimeout(idle);
  log.info({ event: 'pod.ending', reason: why, members: [...members] }, "the pod's VM goes");
  updateRecord(dir, { status: 'stopped' });
  server.close();
  await vm.stop().catch((err: unknown) => log.warn({ err }, 'stopping the VM failed'));
  updateRecord(dir, { sandboxDir: null });
  removeContainerDir(dirname(dir), r.podId);
  leftCgroup();
  return 0;
}

/**
 * What a pod keeper that died without finishing (SIGKILL) left — its VM's
 * host state and ROOT/POD — removed by the delete of one of its containers
 * (nothing else would: cri-o never deletes a pod it dropped the sandbox of).
 */
export async function cleanUpAfterKeeper(root: string, podId: string, log: Logger): Promise<void> {
  const record = readRecord(containerDir(root, podId));
  if (!record?.keeper || holderAlive(record)) return;
  try {
    await removeSandbox(loadConfig(record.configPath ?? undefined), podId, true);
  } catch (err) {
    if (!isMayuError(err, 'ERR_NOT_FOUND')) log.warn({ err, podId }, "cannot remove the pod's VM");
  }
  removeContainerDir(root, podId);
  log.info({ podId }, 'cleaned up after a pod keeper that did not finish');
}
