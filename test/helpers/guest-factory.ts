import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountsUnder, parseConfig, removeDirSafely, Sandbox, type BootReport, type RuntimeConfig } from '@mayu/runtime';
import pino, { type Logger } from 'pino';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { filesUnder, processesMentioning } from './leftovers.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Test artifacts (logs, consoles of failed tests); ignored by git. */
export const ARTIFACTS = join(REPO_ROOT, '.mayu-test');
/**
 * VM templates of the test run (every factory's and every shim's
 * configuration points here): built once per kind of sandbox and shared by
 * the suites; removed after the run (root-hooks.ts).
 */
export const TEST_TEMPLATE_DIR = '/run/mayu-test-templates';

let sharedLog: Logger | undefined;

/** One JSON log for the whole integration run: .mayu-test/integration.log. */
export function testLogger(): Logger {
  if (!sharedLog) {
    mkdirSync(ARTIFACTS, { recursive: true });
    sharedLog = pino({ name: 'mayu-test', level: process.env.MAYU_TEST_LOG_LEVEL ?? 'debug' }, pino.destination({ dest: join(ARTIFACTS, 'integration.log'), sync: true }));
  }
  return sharedLog;
}

/**
 * Boots VMs for tests and owns them: each factory has its own state root
 * under /run, `cleanup()` destroys every sandbox it made (saving their
 * console logs when the test failed) and then asserts that no process, file
 * or directory of theirs is left.
 */
export class GuestFactory {
  readonly stateRoot: string;
  private readonly sandboxes: Sandbox[] = [];
  private counter = 0;

  constructor() {
    mkdirSync('/run', { recursive: true });
    this.stateRoot = mkdtempSync('/run/mayu-test-');
  }

  /** A configuration: the defaults, `toml`, and this factory's state root. */
  config(toml = ''): RuntimeConfig {
    return parseConfig(this.withStateRoot(toml), 'test configuration');
  }

  /** Writes config(toml) as a file (for the CLI) and returns its path. */
  configFile(toml = ''): string {
    const path = join(this.stateRoot, `config-${++this.counter}.toml`);
    writeFileSync(path, this.withStateRoot(toml));
    return path;
  }

  /**
   * `toml` with this factory's state root, and the backend from
   * $MAYU_HYPERVISOR ("qemu", "clh") unless the test chose one: a host with
   * Cloud Hypervisor runs every suite on it.
   */
  private withStateRoot(toml: string): string {
    const doc = parseToml(toml) as { runtime?: Record<string, unknown>; sandbox?: Record<string, unknown>; factory?: Record<string, unknown> };
    doc.runtime = { ...doc.runtime, state_dir: this.stateRoot };
    doc.factory = { template_dir: TEST_TEMPLATE_DIR, ...doc.factory };
    const backend = process.env.MAYU_HYPERVISOR;
    if (backend && doc.sandbox?.hypervisor === undefined) doc.sandbox = { ...doc.sandbox, hypervisor: backend };
    return stringifyToml(doc);
  }

  create(o: { toml?: string; kernelParams?: string; id?: string; hostname?: string } = {}): Sandbox {
    const sandbox = Sandbox.create({ id: o.id ?? `t${++this.counter}`, config: this.config(o.toml), log: testLogger(), kernelParams: o.kernelParams, hostname: o.hostname });
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  async boot(o: { toml?: string; kernelParams?: string; id?: string; hostname?: string } = {}): Promise<{ sandbox: Sandbox; report: BootReport }> {
    const sandbox = this.create(o);
    const report = await sandbox.start();
    return { sandbox, report };
  }

  /** Destroys everything, keeps consoles of a failed test, and checks nothing is left. */
  async cleanup(failedTitle?: string): Promise<void> {
    for (const s of this.sandboxes) {
      if (failedTitle) saveConsole(s.stateDir, failedTitle);
      await s.destroy();
    }
    this.sandboxes.length = 0;
    const processes = processesMentioning(this.stateRoot);
    for (const p of processes) process.kill(p.pid, 'SIGKILL');
    const mounts = mountsUnder(this.stateRoot);
    const files = filesUnder(join(this.stateRoot, 'sandboxes'));
    removeDirSafely(this.stateRoot);
    assert.deepEqual(
      processes.map((p) => p.cmdline),
      [],
      'processes left behind',
    );
    assert.deepEqual(mounts, [], 'mounts left behind');
    assert.deepEqual(files, [], 'sandbox files left behind');
  }
}

function saveConsole(stateDir: string, title: string): void {
  const dest = join(ARTIFACTS, 'failed', title.replace(/[^A-Za-z0-9_.-]+/g, '_'));
  mkdirSync(dest, { recursive: true });
  for (const f of ['console.log', 'qemu.log']) {
    if (existsSync(join(stateDir, f))) copyFileSync(join(stateDir, f), join(dest, f));
  }
}

/**
 * Gives each test of the calling suite a fresh GuestFactory and cleans it up
 * afterwards (saving consoles when the test failed). Call inside describe().
 */
export function useGuestFactory(): () => GuestFactory {
  let vms: GuestFactory | undefined;
  beforeEach(() => {
    vms = new GuestFactory();
  });
  afterEach(async function () {
    await vms?.cleanup(this.currentTest?.state === 'failed' ? this.currentTest.fullTitle() : undefined);
    vms = undefined;
  });
  return () => {
    if (!vms) throw new Error('useGuestFactory(): no factory outside a test');
    return vms;
  };
}
