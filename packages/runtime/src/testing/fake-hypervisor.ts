import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccelDecision } from '../host/accel.js';
import type { Hypervisor, HypervisorCapabilities, HypervisorFactory, VmExit, VmSpec, VmStarted } from '../hypervisor/hypervisor.js';

/**
 * A hypervisor with no VM: its "guest" is whatever agent listens at
 * `endpoint` (a HostileAgent in tests). start() can be made to fail, and
 * die() ends the "VM" as a crash would.
 */
export class FakeHypervisor implements Hypervisor {
  readonly kind = 'fake';
  readonly capabilities: HypervisorCapabilities = {
    hotplug: false,
    grow: { vcpus: true, memory: true },
    pause: true,
    snapshot: false,
    sharedFs: ['virtio-9p'],
    mappedAttributes: true,
    agentChannels: ['vsock'],
    tapNetworking: true,
  };
  readonly accel: AccelDecision = { accel: 'tcg', reason: 'a fake hypervisor runs nothing' };
  /** Calls made, in order (for tests of the sandbox lifecycle). */
  readonly calls: string[] = [];
  spec: VmSpec | null = null;
  started = false;
  private resolveExit: ((exit: VmExit) => void) | null = null;
  private readonly exited: Promise<VmExit>;

  constructor(
    private readonly endpoint: string,
    private readonly failStart: Error | null = null,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  get pid(): number | null {
    return null;
  }

  prepare(spec: VmSpec): void {
    this.calls.push('prepare');
    this.spec = spec;
  }

  async start(): Promise<VmStarted> {
    this.calls.push('start');
    if (this.failStart) throw this.failStart;
    this.started = true;
    const now = performance.now();
    return { pid: process.pid, spawnedAt: now, runningAt: now };
  }

  agentEndpoint(): string {
    return this.endpoint;
  }

  wait(): Promise<VmExit> {
    return this.exited;
  }

  die(): void {
    this.resolveExit?.({ code: null, signal: 'SIGKILL' });
  }

  async stop(): Promise<void> {
    this.calls.push('stop');
    this.die();
  }

  async destroy(): Promise<void> {
    this.calls.push('destroy');
    this.die();
  }

  async pause(): Promise<void> {
    this.calls.push('pause');
  }

  async resizeMemory(mib: number): Promise<void> {
    this.calls.push(`resizeMemory:${mib}`);
  }

  async resume(): Promise<void> {
    this.calls.push('resume');
  }

  disconnect(): void {
    this.calls.push('disconnect');
  }

  async cleanup(): Promise<void> {
    this.calls.push('cleanup');
  }
}

/**
 * A factory of FakeHypervisors for Sandbox.create: the first `failCreate`
 * calls throw (Sandbox.create fails), the next `failStart` VMs fail to start.
 */
export function fakeHypervisors(endpoint: string, o: { failCreate?: number; failStart?: number } = {}): { factory: HypervisorFactory; made: FakeHypervisor[] } {
  const made: FakeHypervisor[] = [];
  let failCreate = o.failCreate ?? 0;
  let failStart = o.failStart ?? 0;
  const factory: HypervisorFactory = () => {
    if (failCreate-- > 0) throw new Error('the fake hypervisor cannot be set up');
    const h = new FakeHypervisor(endpoint, failStart-- > 0 ? new Error('the fake VM failed to start') : null);
    made.push(h);
    return h;
  };
  return { factory, made };
}

/**
 * A guest image directory with a manifest and empty artifacts, made at `dir`
 * (inside the test's own directory, which its teardown removes): enough for
 * Sandbox.create with a fake hypervisor.
 */
export function fakeGuestImage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const artifact = (file: string) => {
    writeFileSync(join(dir, file), '');
    return { file, bytes: 0, sha256: '' };
  };
  const manifest = {
    schemaVersion: 1,
    inputsHash: 'fake',
    variant: 'release',
    kernel: { release: 'fake', source: 'fake' },
    agent: { version: 'fake', node: 'fake' },
    ociRuntime: 'crun',
    rootfsImageType: 'erofs',
    artifacts: { kernel: artifact('vmlinux'), initrd: artifact('initrd.img'), image: artifact('rootfs.erofs') },
    builtAt: new Date(0).toISOString(),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}
