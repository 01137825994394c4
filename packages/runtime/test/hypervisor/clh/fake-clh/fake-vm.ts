import { accessSync, constants, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { openConsole, type ConsoleOut, type ConsoleSpec } from './fake-consoles.js';
import { FakeHybridVsock } from './hybrid-vsock.js';

/** An error answer: the HTTP status and CH's error chain (outermost first). */
export class ApiFail extends Error {
  constructor(
    readonly status: number,
    readonly chain: string[],
  ) {
    super(chain.join(': '));
  }
}

export type FakeVmState = 'Created' | 'Running' | 'Paused';

/** What each action needs and does: the allowed states and the state after (CH's VmState transitions). */
const ACTIONS: Record<string, { from: readonly FakeVmState[]; to?: FakeVmState; what: string }> = {
  'vm.boot': { from: ['Created'], to: 'Running', what: 'The VM could not boot' },
  'vm.pause': { from: ['Running'], to: 'Paused', what: 'The VM could not pause' },
  'vm.resume': { from: ['Paused'], to: 'Running', what: 'The VM could not resume' },
  'vm.shutdown': { from: ['Running', 'Paused'], to: 'Created', what: 'The VM could not shutdown' },
  'vm.power-button': { from: ['Running'], what: 'Error triggering power button' },
  'vm.counters': { from: ['Running'], what: 'Error getting counters' },
  'vm.remove-device': { from: ['Running'], what: 'The device could not be removed' },
};

export interface FakeVmOptions {
  major: number;
  /** Guest vsock ports and the hybrid-vsock front that serves each. */
  guestPorts: ReadonlyMap<number, string>;
  log: (line: string) => void;
}

type Config = Record<string, unknown> & {
  payload?: { kernel?: string; firmware?: string; igvm?: string; initramfs?: string };
  cpus?: { boot_vcpus: number; max_vcpus: number };
  memory?: { size: number; shared?: boolean; hugepages?: boolean };
  disks?: { path?: string; readonly?: boolean; id?: string }[];
  fs?: { socket: string; id?: string }[];
  vsock?: { cid: number; socket: string; id?: string };
  serial?: ConsoleSpec;
  console?: ConsoleSpec & { id?: string };
  net?: { id?: string }[];
  pmem?: { id?: string }[];
};

const canConnect = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** The VM of the fake: its state, config, consoles and hybrid vsock. */
export class FakeVm {
  state: FakeVmState | null = null;
  config: Config | null = null;
  private serial: ConsoleOut | null = null;
  private console: ConsoleOut | null = null;
  private vsock: FakeHybridVsock | null = null;
  private deviceCounter = 0;

  constructor(private readonly o: FakeVmOptions) {}

  /** The state check of an action: 404 with no VM, 500 in a wrong state (v53 answers 500, not the spec's 405). */
  enter(action: string): void {
    const a = ACTIONS[action];
    if (!a) return;
    if (!this.state) throw new ApiFail(404, ['Error from API', 'The VM is not created']);
    if (!a.from.includes(this.state)) throw new ApiFail(500, ['Error from API', a.what, `Invalid transition from ${this.state}`]);
  }

  async create(config: Config): Promise<void> {
    if (this.state) throw new ApiFail(500, ['Error from API', 'The VM could not be created', 'The VM is already created']);
    this.config = structuredClone(config);
    const serial = this.config.serial ?? { mode: 'Null' };
    const console = this.config.console ?? { mode: 'Tty' };
    // Since v53 serial output with no client is buffered; before, it is lost.
    const s = await openConsole(serial, { bufferUntilClient: this.o.major >= 53 });
    this.serial = s.out;
    if (s.pty) this.config.serial = { ...serial, file: s.pty };
    // The virtio console has no Socket mode (the fact sheet lists it for the serial port): that fails at boot.
    const c = console.mode === 'Socket' ? { out: null } : await openConsole(console, { bufferUntilClient: false });
    this.console = c.out;
    if ('pty' in c && c.pty) this.config.console = { ...console, file: c.pty };
    this.state = 'Created';
  }

  async boot(): Promise<void> {
    this.enter('vm.boot');
    const problems = await this.bootProblems(this.config as Config);
    if (problems.length > 0) throw new ApiFail(500, ['Error from API', 'The VM could not boot', ...problems]);
    const vsock = this.config?.vsock;
    if (vsock) {
      this.vsock = new FakeHybridVsock(vsock.socket, this.o.guestPorts, this.o.log);
      await this.vsock.listen();
    }
    this.state = 'Running';
    this.serial?.write('[    0.000000] Linux version 6.1.0-fake (fake cloud-hypervisor)\r\n[    0.100000] Run /sbin/init as init process\r\n');
    this.console?.write(`${JSON.stringify({ level: 30, time: Date.now(), msg: 'fake guest agent started' })}\n`);
  }

  /** What CH checks at vm.boot (not at vm.create): payload, shared memory for virtio-fs, vCPU counts, ids, files it opens. */
  private async bootProblems(c: Config): Promise<string[]> {
    const problems: string[] = [];
    const p = c.payload;
    if (!p || !(p.kernel || p.firmware || p.igvm)) problems.push('No payload (kernel, firmware or igvm)');
    for (const f of [p?.kernel, p?.initramfs]) {
      if (!f) continue;
      try {
        accessSync(f, constants.R_OK);
      } catch (err) {
        problems.push(`Cannot open ${f}: ${(err as Error).message}`);
      }
    }
    if (c.cpus && c.cpus.max_vcpus < c.cpus.boot_vcpus) problems.push('Max vCPUs lower than boot vCPUs');
    if ((c.fs?.length ?? 0) > 0 && !c.memory?.shared && !c.memory?.hugepages) problems.push('Using fs requires shared memory');
    const ids = [...(c.disks ?? []), ...(c.fs ?? []), ...(c.net ?? []), ...(c.pmem ?? []), ...(c.vsock ? [c.vsock] : [])].map((d) => d.id).filter((id): id is string => id !== undefined);
    if (ids.some((id) => id.startsWith('__'))) problems.push('Device identifiers starting with "__" are reserved');
    if (new Set(ids).size !== ids.length) problems.push(`Identifiers are not unique: ${ids.join(', ')}`);
    for (const d of c.disks ?? []) {
      try {
        accessSync(d.path ?? '', d.readonly ? constants.R_OK : constants.R_OK | constants.W_OK);
      } catch (err) {
        problems.push(`Disk ${d.path}: ${(err as Error).message}`);
      }
    }
    for (const f of c.fs ?? []) if (!(await canConnect(f.socket))) problems.push(`Failed to connect to vhost-user socket ${f.socket}`);
    if (c.vsock && (existsSync(c.vsock.socket) || !existsSync(dirname(c.vsock.socket)))) problems.push(`Cannot bind vsock socket ${c.vsock.socket}`);
    if (c.console?.mode === 'Socket') problems.push('Error creating console device', 'No socket option support for console device');
    return problems;
  }

  pause(): void {
    this.enter('vm.pause');
    this.vsock?.pause();
    this.state = 'Paused';
  }

  resume(): void {
    this.enter('vm.resume');
    this.vsock?.resume();
    this.state = 'Running';
  }

  /** Tears the VM down at once; the config stays (vm.info then says Created). */
  shutdown(): void {
    this.enter('vm.shutdown');
    this.vsock?.close();
    this.vsock = null;
    this.state = 'Created';
  }

  async delete(): Promise<void> {
    await this.teardown();
    this.state = null;
    this.config = null;
  }

  info(): unknown {
    if (!this.state) throw new ApiFail(404, ['Error from API', 'The VM is not created']);
    return { config: this.config, state: this.state, memory_actual_size: this.config?.memory?.size ?? 512 << 20, device_tree: {} };
  }

  /** vm.add-*: 204 on a created VM (cold add), 200 with PciDeviceInfo on a booted one. */
  add(kind: 'disks' | 'fs' | 'net' | 'pmem' | 'vsock', device: { id?: string }): { status: 200; body: unknown } | { status: 204 } {
    if (!this.state || !this.config) throw new ApiFail(404, ['Error from API', 'The VM is not created']);
    if (kind === 'vsock' && this.config.vsock) throw new ApiFail(500, ['Error from API', 'The device could not be added', 'Only one vsock device is supported']);
    const prefix = { disks: '_disk', fs: '_fs', net: '_net', pmem: '_pmem', vsock: '_vsock' }[kind];
    const id = device.id ?? `${prefix}${this.deviceCounter++}`;
    const withId = { ...device, id };
    if (kind === 'vsock') this.config.vsock = withId as Config['vsock'];
    else (this.config as Record<string, unknown>)[kind] = [...((this.config[kind] as unknown[] | undefined) ?? []), withId];
    return this.state === 'Created' ? { status: 204 } : { status: 200, body: { id, bdf: `0000:00:${(6 + this.deviceCounter).toString(16).padStart(2, '0')}.0` } };
  }

  remove(id: string): void {
    this.enter('vm.remove-device');
    const c = this.config as Config;
    for (const kind of ['disks', 'fs', 'net', 'pmem'] as const) {
      const list = (c[kind] ?? []) as { id?: string }[];
      if (list.some((d) => d.id === id)) {
        c[kind] = list.filter((d) => d.id !== id) as never;
        return;
      }
    }
    throw new ApiFail(500, ['Error from API', 'The device could not be removed', `Unknown device ${id}`]);
  }

  async teardown(): Promise<void> {
    this.vsock?.close();
    this.vsock = null;
    await this.serial?.close();
    await this.console?.close();
    this.serial = null;
    this.console = null;
  }

  /** Synchronous teardown for a process that exits now. */
  kill(): void {
    this.vsock?.close();
    this.serial?.kill();
    this.console?.kill();
  }
}
