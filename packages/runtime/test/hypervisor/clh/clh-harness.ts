import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config/load-config.js';
import type { VmSpec } from '../../../src/hypervisor/hypervisor.js';
import { CloudHypervisor } from '../../../src/hypervisor/clh/clh-hypervisor.js';
import { FakeAgent } from '../../../src/testing/index.js';

/** The compiled fake, run by a wrapper script that sets its behaviour. */
export const FAKE_CLH = join(dirname(fileURLToPath(import.meta.url)), 'fake-clh', 'fake-cloud-hypervisor.js');
export const FAKE_VIRTIOFSD = join(dirname(fileURLToPath(import.meta.url)), 'fake-clh', 'fake-virtiofsd.js');

let bundled: { clh: string; virtiofsd: string } | undefined;

/**
 * The fakes as one file each (their imports, ajv included, bundled in) in
 * a directory any uid may read, made once per test process and removed at
 * its exit: Cloud Hypervisor may run as an unprivileged uid, which cannot
 * reach the compiled fakes inside a clone whose parent only root may enter
 * (a clone in root's 0700 home).
 */
function bundledFakes(): { clh: string; virtiofsd: string } {
  if (bundled) return bundled;
  const dir = mkdtempSync(join(tmpdir(), 'mayu-fake-clh-'));
  chmodSync(dir, 0o755);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const bundle = (entry: string, name: string): string => {
    const outfile = join(dir, name);
    buildSync({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'warning',
      // ajv is CommonJS and calls require(): give the ES module one.
      banner: { js: "import { createRequire as __fakeRequire } from 'node:module'; const require = __fakeRequire(import.meta.url);" },
    });
    chmodSync(outfile, 0o644);
    return outfile;
  };
  bundled = { clh: bundle(FAKE_CLH, 'fake-cloud-hypervisor.mjs'), virtiofsd: bundle(FAKE_VIRTIOFSD, 'fake-virtiofsd.mjs') };
  return bundled;
}

export interface RecordedRequest {
  method: string;
  endpoint: string;
  body?: unknown;
  status: number;
}

export interface HarnessOptions {
  /** FAKE_CLH_* settings (see fake-cloud-hypervisor.ts). */
  env?: Record<string, string>;
  runAs?: string;
  apiTimeoutMs?: number;
  /** "open": a stand-in /dev/kvm anyone may use (run_as = "auto" then drops to a uid); "root": mode 0600. */
  kvmDevice?: 'open' | 'root';
  kvmUsable?: boolean;
  /** The binary to run instead of the fake. */
  binary?: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * One CloudHypervisor driving the fake, with everything it needs in a
 * temporary directory (readable by the unprivileged uid CH may run as): a
 * kernel and root image (any bytes: nothing boots), a state directory
 * (0700, as a sandbox makes it), a FakeAgent as the guest's port 1024, and
 * the requests the fake answered. dispose() leaves nothing behind.
 */
export class ClhHarness {
  readonly dir: string;
  readonly stateDir: string;
  readonly kernel: string;
  readonly rootfs: string;
  readonly binary: string;
  readonly record: string;
  readonly kvmDevice: string;
  readonly hypervisor: CloudHypervisor;
  guestLog = '';
  private constructor(
    o: HarnessOptions,
    readonly agent: FakeAgent,
    dir: string,
  ) {
    this.dir = dir;
    this.stateDir = join(dir, 'state');
    mkdirSync(this.stateDir, { mode: 0o700 });
    mkdirSync(join(dir, 'image'), { mode: 0o755 });
    this.kernel = join(dir, 'image', 'vmlinux');
    this.rootfs = join(dir, 'image', 'rootfs.erofs');
    writeFileSync(this.kernel, 'not a kernel', { mode: 0o644 });
    writeFileSync(this.rootfs, 'not an image', { mode: 0o644 });
    this.kvmDevice = join(dir, 'kvm');
    writeFileSync(this.kvmDevice, '');
    chmodSync(this.kvmDevice, o.kvmDevice === 'root' ? 0o600 : 0o666);
    this.record = join(dir, 'requests.jsonl');
    writeFileSync(this.record, '');
    chmodSync(this.record, 0o666);
    // The fake reaches the agent as whatever uid it runs as.
    chmodSync(agent.hybridSocket, 0o666);
    const env = { FAKE_CLH_AGENT: agent.hybridSocket, FAKE_CLH_RECORD: this.record, ...o.env };
    this.binary = o.binary ?? join(dir, 'cloud-hypervisor');
    if (!o.binary) {
      const exports = Object.entries(env)
        .map(([k, v]) => `export ${k}=${quote(v)}\n`)
        .join('');
      writeFileSync(this.binary, `#!/bin/sh\n${exports}exec ${quote(process.execPath)} ${quote(bundledFakes().clh)} "$@"\n`, { mode: 0o755 });
    }
    const config = loadConfig();
    const virtiofsd = join(dir, 'virtiofsd');
    writeFileSync(virtiofsd, `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(bundledFakes().virtiofsd)} "$@"\n`, { mode: 0o755 });
    const clh = { ...config.hypervisor.clh, path: this.binary, runAs: o.runAs ?? 'auto', apiTimeoutMs: o.apiTimeoutMs ?? 2000 };
    this.hypervisor = new CloudHypervisor({
      config: clh,
      sandbox: { ...config.sandbox, virtioFsDaemon: virtiofsd },
      log: pino({ level: process.env.MAYU_TEST_LOG ?? 'silent' }),
      onGuestLog: (stream: Readable) => stream.on('data', (d: Buffer) => (this.guestLog += d.toString())),
      kvm: o.kvmUsable === false ? { usable: false, reason: '/dev/kvm is missing or not read-write for this user' } : { usable: true, reason: 'test' },
      kvmDevice: this.kvmDevice,
    });
  }

  static async create(o: HarnessOptions = {}): Promise<ClhHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-clh-'));
    chmodSync(dir, 0o755);
    const agent = await FakeAgent.start(dir);
    return new ClhHarness(o, agent, dir);
  }

  spec(over: Partial<VmSpec> = {}): VmSpec {
    return {
      id: 'clh-test',
      stateDir: this.stateDir,
      vcpus: 1,
      memoryMib: 256,
      kernel: this.kernel,
      rootfs: { kind: 'image', path: this.rootfs, fsType: 'erofs' },
      agentChannel: 'vsock',
      kernelParams: '',
      debug: false,
      dieWithParent: true,
      ...over,
    };
  }

  requests(): RecordedRequest[] {
    return readFileSync(this.record, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RecordedRequest);
  }

  /** The endpoints asked, in order, without the start-up pings. */
  endpoints(): string[] {
    return this.requests()
      .map((r) => r.endpoint)
      .filter((e) => e !== 'vmm.ping');
  }

  /** Sockets left in the state directory (CH's own directory included). */
  socketsLeft(): string[] {
    const clh = join(this.stateDir, 'clh');
    const names = [...readdirSync(this.stateDir), ...(existsSync(clh) ? readdirSync(clh).map((n) => `clh/${n}`) : [])];
    return names.filter((n) => n.endsWith('.sock') || n.endsWith('.lock'));
  }

  async dispose(): Promise<void> {
    await this.hypervisor.destroy();
    await this.hypervisor.cleanup();
    await this.agent.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
