import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ExitStatus, ProcessRef } from '@mayu/protocol';
import { podSharedNamespaces, Sandbox, type AgentClient, type RuntimeConfig } from '@mayu/runtime';
import { attachAgentBridge } from '../run/agent-bridge.js';
import type { ContainerSession, RunRequest } from '../run/container-session.js';
import { askHolder } from './control.js';
import { RuntimeCliError } from './errors.js';
import { containerDir, type PodRef } from './state.js';

/** A container the holder stands for: in a VM of its own (ContainerSession), or in its pod's (MemberSession). */
export type HeldContainer = Pick<ContainerSession, 'agent' | 'ref' | 'id' | 'sandboxDir' | 'start' | 'wait' | 'finish' | 'abort'>;

/**
 * A container in its pod's VM. The pod's sandbox holder, which owns that VM,
 * creates and removes it there (the rootfs and volumes are shared into the
 * VM by it); this container's holder reaches the agent through the VM's
 * bridge socket for the rest.
 */
export class MemberSession implements HeldContainer {
  readonly ref: ProcessRef;

  private constructor(
    readonly id: string,
    readonly agent: AgentClient,
    private readonly pod: PodRef,
  ) {
    this.ref = { containerId: id, execId: '' };
  }

  static async create(id: string, pod: PodRef, config: RuntimeConfig): Promise<MemberSession> {
    await askHolder(pod.dir, { op: 'add-member', id }, 120_000);
    return new MemberSession(id, attachAgentBridge(pod.sandboxDir, config), pod);
  }

  get sandboxDir(): string {
    return this.pod.sandboxDir;
  }

  async start(): Promise<void> {
    await this.agent.startContainer(this.id);
  }

  wait(): Promise<ExitStatus> {
    return this.agent.waitProcess(this.ref);
  }

  /** Removes the container from the pod's VM (the VM stays: the pod's). A pod already gone took it along. */
  async finish(): Promise<void> {
    await removeMember(this.pod.dir, this.id);
    this.agent.close();
  }

  abort(): Promise<void> {
    return this.finish();
  }
}

/** Asks the pod's sandbox holder to remove member `id` (killed first if it runs); a pod that is gone took it along. */
export async function removeMember(podDir: string, id: string): Promise<void> {
  await askHolder(podDir, { op: 'remove-member', id }, 30_000).catch(() => {});
}

/**
 * The side of a pod's VM owner (its sandbox container's holder, or the pod's
 * keeper): creates member `id` (an id validated by the caller; its request
 * is in its own state directory beside the owner's, under the same --root)
 * in the VM, sharing the pod's namespaces the spec joins with container
 * `shareWith` — or, '' for a pod without a sandbox container, the pod's own.
 */
export async function addMember(ownerDir: string, sandbox: Sandbox, shareWith: string, config: RuntimeConfig, id: string): Promise<void> {
  const file = join(containerDir(dirname(ownerDir), id), 'request.json');
  const { req } = JSON.parse(readFileSync(file, 'utf8')) as { req: RunRequest };
  if (req.id !== id) throw new RuntimeCliError(`member ${id}: its request names ${req.id}`);
  Sandbox.checkContainerSpec(config, req.spec, { bundle: req.bundle, terminal: req.terminal });
  const shared = podSharedNamespaces(req.spec);
  await sandbox.createContainer({
    id,
    spec: req.spec,
    bundle: req.bundle,
    rootfs: 'own',
    stdio: { terminal: req.terminal, stdin: req.stdin },
    shareNamespaces: shared.length > 0 ? { containerId: shareWith, types: shared } : undefined,
  });
}
