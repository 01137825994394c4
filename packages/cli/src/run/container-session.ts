import { setTimeout as sleep } from 'node:timers/promises';
import { MayuError, type ExitStatus, type ProcessRef } from '@mayu/protocol';
import { mayGrowMemory, Sandbox, setUpRunNetwork, tearDownRunNetwork, vmSizeFromSpec, type AgentClient, type RunNetwork, type RunNetworkRecord, type RuntimeConfig } from '@mayu/runtime';
import type { Logger } from 'pino';
import { bridgeSocket } from './agent-bridge.js';

/** What a run needs once its image is resolved: a rootfs and a spec with host paths. */
export interface RunRequest {
  id: string;
  rootfs: string;
  /** `image`: a read-only image (the container writes to a layer of its own); `bundle`: the bundle's own rootfs, written in place (as runc does). */
  rootfsKind: 'image' | 'bundle';
  /** The OCI bundle's directory (a relative root.path is relative to it). */
  bundle?: string;
  /** --network: none (lo only, as runc), an existing namespace, or a CNI network. */
  network?: RunNetwork;
  /** Serve Kubernetes port-forward in that namespace (a pod's sandbox container: the engine dials localhost:PORT there). */
  portForward?: boolean;
  spec: Record<string, unknown>;
  terminal: boolean;
  stdin: boolean;
}

/** Points the spec's network namespace at `netns` (without a network, it keeps a new empty one: lo only, as with runc). */
function joinNetworkNamespace(spec: Record<string, unknown>, netns: string): void {
  const linux = (spec.linux ??= {}) as { namespaces?: { type: string; path?: string }[] };
  linux.namespaces = [...(linux.namespaces ?? []).filter((ns) => ns.type !== 'network'), { type: 'network', path: netns }];
}

/** How long a failed wait waits for the VM's exit to tell whether the VM died. */
const VM_EXIT_GRACE_MS = 3000;

/**
 * One container in its own sandbox, as `mayu run` makes it: the VM is sized
 * from the spec, the rootfs is offered to the sandbox before it boots (it
 * picks the shared filesystem or a block image, by configuration), the
 * container is created in the guest.
 */
export class ContainerSession {
  readonly ref: ProcessRef;

  private constructor(
    readonly sandbox: Sandbox,
    readonly id: string,
    private readonly network: RunNetworkRecord | null,
  ) {
    this.ref = { containerId: id, execId: '' };
  }

  /**
   * `onSandbox` receives the sandbox as soon as it exists (to destroy it if
   * the user gives up); `onNetwork` what the network set-up made (to record
   * it with the run before anything else can fail).
   */
  static async create(req: RunRequest, config: RuntimeConfig, log: Logger, onSandbox?: (s: Sandbox) => void, onNetwork?: (n: RunNetworkRecord) => void): Promise<ContainerSession> {
    // A spec the guest cannot honour is refused before a VM boots for it.
    Sandbox.checkContainerSpec(config, req.spec, { bundle: req.bundle, terminal: req.terminal });
    const network = await setUpRunNetwork(req.id, req.network ?? { kind: 'none' });
    if (network) {
      onNetwork?.(network);
      // The container joins that namespace, as a pod's containers join their pod's: in the guest, the VM's own, where its NICs are.
      joinNetworkNamespace(req.spec, network.netns);
    }
    let sandbox: Sandbox;
    try {
      sandbox = Sandbox.create({
        id: req.id,
        config,
        log,
        ...vmSizeFromSpec(req.spec, config.sandbox),
        growMemory: mayGrowMemory(req.spec),
        ...(network ? { network: { netns: network.netns, portForward: req.portForward } } : {}),
      });
    } catch (err) {
      await tearDownRunNetwork(network);
      throw err;
    }
    onSandbox?.(sandbox);
    try {
      await sandbox.offerRootfs(req.id, req.rootfs);
      await sandbox.start();
      await sandbox.createContainer({
        id: req.id,
        spec: req.spec,
        bundle: req.bundle,
        rootfs: req.rootfsKind === 'bundle' ? 'own' : 'image',
        stdio: { terminal: req.terminal, stdin: req.stdin },
      });
      return new ContainerSession(sandbox, req.id, network);
    } catch (err) {
      await sandbox.destroy();
      await tearDownRunNetwork(network);
      throw err;
    }
  }

  get agent(): AgentClient {
    return this.sandbox.agent;
  }

  get sandboxDir(): string {
    return this.sandbox.stateDir;
  }

  get bridgeSocket(): string {
    return bridgeSocket(this.sandbox.stateDir);
  }

  async start(): Promise<void> {
    await this.agent.startContainer(this.id);
  }

  /** The container's exit status; if the VM dies first, an error that says why (a guest panic, a hung VM, QEMU killed). */
  async wait(): Promise<ExitStatus> {
    try {
      return await this.agent.waitProcess(this.ref);
    } catch (err) {
      // The wait fails as the VM goes; its exit (and the console's last words) follow within a moment.
      const exit = await Promise.race([this.sandbox.exited(), sleep(VM_EXIT_GRACE_MS).then(() => null)]);
      if (!exit) throw err;
      const reason = this.sandbox.exitReason(exit);
      throw new MayuError('ERR_HYPERVISOR', `the VM died before the container exited: ${reason}`, { details: { reason }, cause: err });
    }
  }

  /** Removes the container and powers the sandbox off (nothing is left). */
  async finish(): Promise<void> {
    try {
      await this.sandbox.removeContainer(this.id, 2000);
    } catch {
      // the VM goes anyway
    }
    await this.sandbox.stop();
    await tearDownRunNetwork(this.network);
  }

  async abort(): Promise<void> {
    await this.sandbox.destroy();
    await tearDownRunNetwork(this.network);
  }
}
