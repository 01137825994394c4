import { join } from 'node:path';
import type { ExitStatus, ProcessRef } from '@mayu/protocol';
import { buildRootfsImage, Sandbox, vmSizeFromSpec, type AgentClient, type ContainerRootfs, type RuntimeConfig } from '@mayu/runtime';
import type { Logger } from 'pino';

/** What a run needs once its image is resolved: a rootfs and a spec with host paths. */
export interface RunRequest {
  id: string;
  rootfs: string;
  /** `image`: a read-only image (the container writes to a layer of its own); `bundle`: the bundle's own rootfs, written in place (as runc does). */
  rootfsKind: 'image' | 'bundle';
  spec: Record<string, unknown>;
  terminal: boolean;
  stdin: boolean;
}

/** The serial of the disk carrying a block container rootfs. */
const ROOTFS_DISK_SERIAL = 'mayu-rootfs';

/**
 * One container in its own sandbox, as `mayu run` makes it: the VM is sized
 * from the spec, the rootfs goes in through the shared filesystem or as a
 * block image (by configuration), the container is created in the guest.
 */
export class ContainerSession {
  readonly ref: ProcessRef;

  private constructor(
    readonly sandbox: Sandbox,
    readonly id: string,
  ) {
    this.ref = { containerId: id, execId: '' };
  }

  /** `onSandbox` receives the sandbox as soon as it exists (to destroy it if the user gives up). */
  static async create(req: RunRequest, config: RuntimeConfig, log: Logger, onSandbox?: (s: Sandbox) => void): Promise<ContainerSession> {
    const size = vmSizeFromSpec(req.spec, config.hypervisor.qemu);
    const sandbox = Sandbox.create({ id: req.id, config, log, ...size });
    onSandbox?.(sandbox);
    try {
      let rootfs: ContainerRootfs = req.rootfsKind === 'bundle' ? { kind: 'shared-fs', path: req.rootfs } : { kind: 'image', path: req.rootfs };
      if (config.hypervisor.qemu.containerRootfs === 'block') {
        const image = join(sandbox.stateDir, 'rootfs.erofs');
        await buildRootfsImage(req.rootfs, image);
        sandbox.attachDiskAtBoot({ id: 'ctr-rootfs', path: image, readOnly: true, serial: ROOTFS_DISK_SERIAL });
        rootfs = { kind: 'disk', serial: ROOTFS_DISK_SERIAL };
      }
      await sandbox.start();
      await sandbox.createContainer({ id: req.id, spec: req.spec, rootfs, stdio: { terminal: req.terminal, stdin: req.stdin } });
      return new ContainerSession(sandbox, req.id);
    } catch (err) {
      await sandbox.destroy();
      throw err;
    }
  }

  get agent(): AgentClient {
    return this.sandbox.agent;
  }

  get bridgeSocket(): string {
    return join(this.sandbox.stateDir, 'agent-grpc.sock');
  }

  async start(): Promise<void> {
    await this.agent.startContainer(this.id);
  }

  wait(): Promise<ExitStatus> {
    return this.agent.waitProcess(this.ref);
  }

  /** Removes the container and powers the sandbox off (nothing is left). */
  async finish(): Promise<void> {
    try {
      await this.sandbox.removeContainer(this.id, 2000);
    } catch {
      // the VM goes anyway
    }
    await this.sandbox.stop();
  }

  async abort(): Promise<void> {
    await this.sandbox.destroy();
  }
}
