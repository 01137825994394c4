import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { AgentHealthWatch, HEALTH_FAILURES } from '../../src/sandbox/agent-health.js';
import { guestExitReason } from '../../src/sandbox/exit-reason.js';

const log = pino({ level: 'silent' });

describe('AgentHealthWatch', () => {
  it(`declares the VM hung after ${HEALTH_FAILURES} failed checks in a row, once, and checks no more`, async () => {
    let calls = 0;
    const hung: string[] = [];
    const w = new AgentHealthWatch({ intervalMs: 5, timeoutMs: 7, check: async () => (calls++, Promise.reject(new Error('timeout'))), onHung: (r) => hung.push(r), log });
    w.start();
    await sleep(150);
    assert.equal(hung.length, 1);
    assert.match(hung[0] ?? '', /answered none of 3 health checks in a row \(each allowed 7 ms, every 5 ms\): the VM is hung/);
    assert.equal(calls, HEALTH_FAILURES);
  });

  it('a check that succeeds resets the count: failures that are not in a row never kill', async () => {
    let calls = 0;
    const hung: string[] = [];
    // fail, fail, ok, fail, fail, ok, ...
    const w = new AgentHealthWatch({ intervalMs: 2, timeoutMs: 5, check: async () => (++calls % 3 === 0 ? 'serving' : Promise.reject(new Error('slow'))), onHung: (r) => hung.push(r), log });
    w.start();
    await sleep(120);
    w.stop();
    assert.ok(calls >= 9, `checked ${calls} times`);
    assert.deepEqual(hung, []);
  });

  it('interval 0 never checks; stop() ends the watch', async () => {
    let calls = 0;
    const off = new AgentHealthWatch({ intervalMs: 0, timeoutMs: 5, check: async () => calls++, onHung: () => {}, log });
    off.start();
    const on = new AgentHealthWatch({ intervalMs: 2, timeoutMs: 5, check: async () => calls++, onHung: () => {}, log });
    on.start();
    await sleep(30);
    on.stop();
    const seen = calls;
    await sleep(30);
    assert.ok(seen > 0);
    assert.equal(calls, seen, 'no check after stop()');
  });
});

describe('guestExitReason (the end of the console log)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-panic-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the last panic line and cleans it to one printable line', () => {
    const log = join(dir, 'console.log');
    writeFileSync(log, `${'x'.repeat(100_000)}\n[    1.2] Kernel panic - not syncing: first\n[    2.0] Kernel panic - not syncing: sysrq triggered crash\x1b[0m\r\n[ end Kernel panic ]\n`);
    assert.equal(guestExitReason(log), 'guest kernel panic: sysrq triggered crash');
  });

  it('no panic, no file, or a symlink (the log is never followed): null', () => {
    writeFileSync(join(dir, 'quiet.log'), 'booted\n');
    assert.equal(guestExitReason(join(dir, 'quiet.log')), null);
    assert.equal(guestExitReason(join(dir, 'absent.log')), null);
    writeFileSync(join(dir, 'elsewhere'), 'Kernel panic - not syncing: not this one\n');
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'link.log'));
    assert.equal(guestExitReason(join(dir, 'link.log')), null);
  });

  it("finds mayu-init's word that the agent died, when it came after any panic line", () => {
    const log = join(dir, 'console.log');
    writeFileSync(log, 'Kernel panic - not syncing: long ago\nmayu-init: agent killed by signal 9; powering off\r\nreboot: Power down\n');
    assert.equal(guestExitReason(log), 'the guest agent died (agent killed by signal 9) and the guest powered off');
    writeFileSync(log, 'mayu-init: agent exited with status 1; powering off\n');
    assert.equal(guestExitReason(log), 'the guest agent died (agent exited with status 1) and the guest powered off');
  });

  it('bounds the panic text', () => {
    const log = join(dir, 'console.log');
    writeFileSync(log, `Kernel panic - not syncing: ${'A'.repeat(5000)}\n`);
    assert.equal(guestExitReason(log)?.length, 'guest kernel panic: '.length + 200);
  });
});
