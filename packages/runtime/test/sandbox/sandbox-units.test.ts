import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeBootTimings } from '../../src/sandbox/boot-timings.js';
import { createStateDir, sandboxDir, validateSandboxId, writeRecord } from '../../src/sandbox/state-dir.js';

describe('sandbox state directory', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mayu-state-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('validates ids', () => {
    for (const ok of ['a', 'pod-1', 'A_b.c', 'x'.repeat(64), 'f'.repeat(64)]) validateSandboxId(ok);
    for (const bad of ['', '-a', '../x', 'a/b', 'x'.repeat(65), 'a b']) {
      assert.throws(() => validateSandboxId(bad), { code: 'ERR_INVALID_ARGUMENT', message: /^sandbox id: / }, bad);
    }
  });

  it('creates a private directory and replaces a stale one', () => {
    const dir = createStateDir(root, 'sb');
    assert.equal(dir, sandboxDir(root, 'sb'));
    writeFileSync(join(dir, 'junk'), 'x');
    writeRecord({ id: 'sb', stateDir: dir, hypervisor: 'qemu', pid: 999999999, createdAt: '', agentEndpoint: '' });
    assert.equal(createStateDir(root, 'sb'), dir);
    assert.ok(!existsSync(join(dir, 'junk')), 'the stale directory was replaced');
  });

  it('refuses an id whose hypervisor still runs, but not a reused PID', async () => {
    const dir = createStateDir(root, 'live');
    // A process whose command line names the directory stands in for its hypervisor.
    const stand_in = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', dir], { stdio: 'ignore' });
    try {
      await new Promise((r) => stand_in.once('spawn', r));
      writeRecord({ id: 'live', stateDir: dir, hypervisor: 'qemu', pid: stand_in.pid ?? 0, createdAt: '', agentEndpoint: '' });
      assert.throws(() => createStateDir(root, 'live'), { code: 'ERR_ALREADY_EXISTS', message: /sandbox live already exists and is running/ });
      // The same PID running something else (here: this test process) does not count.
      writeRecord({ id: 'live', stateDir: dir, hypervisor: 'qemu', pid: process.pid, createdAt: '', agentEndpoint: '' });
      assert.equal(createStateDir(root, 'live'), dir);
    } finally {
      stand_in.kill('SIGKILL');
    }
  });

  it("names the directory of a long id (containerd's 64 hex) so its sockets fit in sun_path", () => {
    const base = join(root, 'y'.repeat(20));
    mkdirSync(base);
    const id = 'a'.repeat(63) + 'b';
    const dir = createStateDir(base, id);
    assert.ok(join(dir, 'agent-grpc.sock').length <= 107, dir);
    assert.match(dir, /\/sandboxes\/a{16}-[0-9a-f]{16}$/);
    assert.equal(sandboxDir(base, id), dir, 'found again from the id');
    assert.notEqual(sandboxDir(base, 'a'.repeat(63) + 'c'), dir, 'ids sharing a prefix get different directories');
    assert.equal(sandboxDir(base, 'short'), join(base, 'sandboxes', 'short'), 'a short id names its directory');
  });

  it('refuses a state root too long for socket paths', () => {
    const long = join(root, 'x'.repeat(90));
    mkdirSync(long);
    assert.throws(() => createStateDir(long, 'sb'), { code: 'ERR_INVALID_ARGUMENT', message: /runtime.state_dir: is too long/ });
  });
});

describe('boot timings', () => {
  it('places guest milestones on the host clock', () => {
    const t = computeBootTimings({
      spawnedAt: 0,
      runningAt: 100,
      firstRpcAt: 3000,
      detailsSentAt: 3100,
      detailsReceivedAt: 3120,
      guest: { uptimeMs: 2600, boot: { initStartMs: 600, agentProcessStartMs: 800, agentMainMs: 1900, agentListeningMs: 2000 } } as never,
    });
    assert.deepEqual(t, { restored: false, spawnMs: 100, kernelStartMs: 510, initStartMs: 1110, agentProcessStartMs: 1310, agentMainMs: 2410, agentListeningMs: 2510, firstRpcMs: 3000 });
  });

  it("has no guest milestones for a VM restored from a template (they are the template's, long past)", () => {
    const t = computeBootTimings({
      restored: true,
      spawnedAt: 0,
      runningAt: 40,
      firstRpcAt: 250,
      detailsSentAt: 260,
      detailsReceivedAt: 270,
      guest: { uptimeMs: 2900, boot: { initStartMs: 600, agentProcessStartMs: 800, agentMainMs: 1900, agentListeningMs: 2000 } } as never,
    });
    assert.deepEqual(t, { restored: true, spawnMs: 40, kernelStartMs: null, initStartMs: null, agentProcessStartMs: null, agentMainMs: null, agentListeningMs: null, firstRpcMs: 250 });
  });
});
