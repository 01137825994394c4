import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv, parseVolume, seccompOption } from '../../src/commands/run.js';
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
