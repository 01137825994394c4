import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCpus, parseEnv, parseMemory, parseVolume, seccompOption, withLimits } from '../../src/commands/run.js';
import { loadConfig, vmSizeFromSpec } from '@mayu/runtime';
import { parseSignal } from '../../src/run/attach.js';
import { createRun, getRun, listRuns, ownerAlive, removeRun, updateRun, type RunRecord } from '../../src/run/run-records.js';

describe('mayu run options', () => {
  it('--security-opt: the default seccomp profile unless seccomp=unconfined; anything else is named', () => {
    assert.equal(seccompOption([]), 'default');
    assert.equal(seccompOption(['seccomp=unconfined']), 'unconfined');
    assert.throws(() => seccompOption(['apparmor=unconfined']), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /--security-opt: must be seccomp=default or seccomp=unconfined \(got "apparmor=unconfined"\)/,
    });
  });

  it('parses -v SRC:DST[:ro|rw]', () => {
    assert.deepEqual(parseVolume('/a:/b'), { source: '/a', destination: '/b', readOnly: false });
    assert.deepEqual(parseVolume('/a:/b:ro'), { source: '/a', destination: '/b', readOnly: true });
    assert.deepEqual(parseVolume('/a:/b:ro,rslave'), { source: '/a', destination: '/b', readOnly: true, propagation: 'rslave' });
    assert.deepEqual(parseVolume('/a:/b:rshared'), { source: '/a', destination: '/b', readOnly: false, propagation: 'rshared' });
    for (const bad of ['/a', '/a:b', '/a:/b:rx', ':/b', '/a:/b:ro:x', '/a:/b:ro,slavish']) assert.throws(() => parseVolume(bad), { code: 'ERR_INVALID_ARGUMENT', message: /--volume/ }, bad);
  });

  it('parses -e K=V and -e NAME (from this environment)', () => {
    assert.equal(parseEnv('A=1=2'), 'A=1=2');
    process.env.MAYU_TEST_VAR = 'x';
    assert.equal(parseEnv('MAYU_TEST_VAR'), 'MAYU_TEST_VAR=x');
    assert.throws(() => parseEnv('=v'), /--env: must be KEY=VALUE/);
    assert.throws(() => parseEnv('MAYU_UNSET_VAR_42'), /--env/);
  });

  it("-m/--memory and --cpus as Docker's: the container's limits in its spec, and a VM sized for them on top of the defaults", () => {
    assert.equal(parseMemory('1g'), 1024 ** 3);
    assert.equal(parseMemory('512M'), 512 * 1024 ** 2);
    assert.equal(parseMemory('7340032'), 7 * 1024 ** 2);
    assert.equal(parseMemory('1.5g'), 1.5 * 1024 ** 3);
    for (const bad of ['', 'lots', '1x', '-1g', '4m', '1gg']) assert.throws(() => parseMemory(bad), { code: 'ERR_INVALID_ARGUMENT', message: /^--memory: must be a size/ }, bad);
    assert.deepEqual(parseCpus('1.5'), { quota: 150_000, period: 100_000 });
    for (const bad of ['0', 'two', '-1', '0.001', '1e3']) assert.throws(() => parseCpus(bad), { code: 'ERR_INVALID_ARGUMENT', message: /^--cpus: / }, bad);
    const spec = withLimits({ linux: { resources: { pids: { limit: 10 } } } }, '1g', '2');
    assert.deepEqual(spec.linux, { resources: { pids: { limit: 10 }, memory: { limit: 1024 ** 3 }, cpu: { quota: 200_000, period: 100_000 } } });
    assert.deepEqual(vmSizeFromSpec(spec, loadConfig().sandbox), { vcpus: 3, memoryMib: 512 + 1024 }, 'the defaults plus the limits');
    const none = { linux: {} };
    assert.equal(withLimits(none, undefined, undefined), none, 'no flag: the spec as it was');
  });

  it('parses signals by name or number', () => {
    assert.equal(parseSignal('KILL'), 9);
    assert.equal(parseSignal('sigterm'), 15);
    assert.equal(parseSignal('2'), 2);
    assert.equal(parseSignal('NOPE'), null);
    assert.equal(parseSignal('99'), null);
  });
});

describe('run records', () => {
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'mayu-runs-'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  const record = (id: string): RunRecord => ({
    id,
    image: 'img',
    args: ['sh'],
    createdAt: 'now',
    detached: false,
    status: 'starting',
    exit: null,
    error: null,
    ownerPid: process.pid,
    sandboxDir: null,
    process: null,
    rootfs: null,
  });

  it('creates, updates, lists and removes runs; a used id is ERR_ALREADY_EXISTS', () => {
    const dir = createRun(state, record('a'));
    assert.throws(() => createRun(state, record('a')), { code: 'ERR_ALREADY_EXISTS' });
    assert.throws(() => createRun(state, record('../x')), { code: 'ERR_INVALID_ARGUMENT' });
    updateRun(dir, { status: 'exited', exit: { exitStatus: 3, signal: 0, exitedAtMs: 1 } });
    assert.equal(getRun(state, 'a').record.exit?.exitStatus, 3);
    assert.deepEqual(
      listRuns(state).map((r) => r.id),
      ['a'],
    );
    assert.ok(ownerAlive(getRun(state, 'a').record), 'this process is the live owner');
    assert.ok(!ownerAlive({ ...getRun(state, 'a').record, ownerStart: 1 }), 'a reused PID is not the owner');
    removeRun(dir);
    assert.throws(() => getRun(state, 'a'), { code: 'ERR_NOT_FOUND', message: 'no container a' });
  });
});
