import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMayuError } from '@mayu/protocol';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { processesMentioning } from '../helpers/leftovers.js';

describe('sandbox lifecycle: stop, kill and failures leave nothing behind', () => {
  const vms = useGuestFactory();

  it('stop() powers the guest off through the agent, and QEMU exits by itself', async () => {
    const { sandbox, report } = await vms().boot({ toml: '[runtime]\nstop_timeout = 20' });
    const qemuExit = sandbox.exited();
    const t0 = performance.now();
    await sandbox.stop();
    const exit = await qemuExit;
    assert.deepEqual(exit, { code: 0, signal: null }, 'QEMU ended on the guest power-off, not by a signal');
    assert.ok(performance.now() - t0 < 15_000);
    assert.equal(sandbox.state, 'stopped');
    assert.ok(!existsSync(report.stateDir));
    assert.deepEqual(processesMentioning(report.stateDir), []);
  });

  it('destroy() kills the VM at once and removes the state directory', async () => {
    const { sandbox, report } = await vms().boot();
    await sandbox.destroy();
    assert.notEqual((await sandbox.exited()).signal ?? 'exited', null);
    assert.ok(!existsSync(report.stateDir));
    assert.deepEqual(processesMentioning(report.stateDir), []);
    await sandbox.destroy(); // idempotent
  });

  it('a VM that dies while booting fails start() and leaves nothing', async () => {
    // Node refuses an unknown flag: the agent exits, init powers the VM off.
    const sandbox = vms().create({ kernelParams: 'agent.node_options=--no-such-node-flag' });
    await assert.rejects(sandbox.start(), (err: unknown) => isMayuError(err, 'ERR_HYPERVISOR') && /exited while booting/.test(err.message));
    assert.ok(!existsSync(sandbox.stateDir));
  });

  it('an agent that never answers times out with ERR_AGENT_TIMEOUT and leaves nothing', async () => {
    const sandbox = vms().create({ toml: '[agent]\ndial_timeout = 1.5', kernelParams: 'agent.channel=no.such.port' });
    await assert.rejects(sandbox.start(), { code: 'ERR_AGENT_TIMEOUT', message: /did not answer within 1500 ms/ });
    assert.ok(!existsSync(sandbox.stateDir));
  });

  it('a QEMU that cannot start is ERR_HYPERVISOR_START, with its own words', async () => {
    const sandbox = vms().create({ toml: '[hypervisor.qemu]\npath = "/bin/false"' });
    await assert.rejects(sandbox.start(), { code: 'ERR_HYPERVISOR_START' });
    assert.ok(!existsSync(sandbox.stateDir));
  });

  it('a missing kernel is refused before anything is created', () => {
    assert.throws(() => vms().create({ toml: '[sandbox]\nkernel = "/nonexistent/vmlinux"' }), {
      code: 'ERR_GUEST_IMAGE',
      message: 'sandbox.kernel: /nonexistent/vmlinux does not exist',
    });
  });

  it('captures the guest console to console.log while the VM runs', async () => {
    const { sandbox } = await vms().boot({ toml: '[sandbox]\nenable_debug = true' });
    const console = readFileSync(join(sandbox.stateDir, 'console.log'), 'utf8');
    assert.match(console, /Linux version 6\.1/);
    assert.match(console, /Run \/sbin\/init as init process/);
  });
});
