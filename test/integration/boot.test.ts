import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, useGuestFactory } from '../helpers/guest-factory.js';

/** A cold boot: no VM template (its milestones are the guest's own). */
const COLD = '[factory]\ntemplate = false';

const AGENT_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages/agent/package.json'), 'utf8')) as { version: string }).version;

describe('booting a micro-VM (real QEMU, TCG where KVM is unusable)', () => {
  const vms = useGuestFactory();

  it('boots, and the agent answers Check over virtio-serial', async () => {
    const { sandbox, report } = await vms().boot();
    assert.equal(await sandbox.agent.check(), 'serving');
    assert.equal(report.agentEndpoint, `serial://${join(sandbox.stateDir, 'agent.sock')}`);
    assert.equal(sandbox.state, 'running');
  });

  it('GetGuestDetails reports the guest kernel (not the host one), the agent and the VM size', async () => {
    const { sandbox, report } = await vms().boot({ toml: '[sandbox]\ndefault_vcpus = 2\ndefault_memory = 384' });
    const details = await sandbox.agent.guestDetails();
    assert.equal(details.kernelRelease, sandbox.image.manifest.kernel.release);
    assert.notEqual(details.kernelRelease, release());
    assert.equal(details.agentVersion, AGENT_VERSION);
    assert.equal(details.hostname, 'mayu');
    assert.equal(details.onlineCpus, 2);
    assert.ok(details.memory.totalBytes > 300 * 2 ** 20 && details.memory.totalBytes <= 384 * 2 ** 20, `${details.memory.totalBytes} bytes`);
    assert.match(details.ociRuntime, /^crun version \d/);
    assert.deepEqual(details.channels, ['serial://agent.channel.0', 'vsock://-1:1024']);
    assert.ok(details.uptimeMs > report.guest.uptimeMs, 'uptime moves on');
  });

  it('reports boot milestones in order (a cold boot)', async () => {
    const { report } = await vms().boot({ toml: COLD });
    const t = report.timings;
    assert.equal(t.restored, false);
    const order = [t.spawnMs, t.kernelStartMs, t.initStartMs, t.agentProcessStartMs, t.agentMainMs, t.agentListeningMs, t.firstRpcMs] as number[];
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      JSON.stringify(t),
    );
    assert.ok(t.spawnMs > 0 && t.firstRpcMs < 60_000);
  });

  it('boots from the initrd as well as from the erofs image', async () => {
    const { sandbox } = await vms().boot({ toml: '[sandbox]\nrootfs = "initrd"' });
    assert.equal(await sandbox.agent.check(), 'serving');
    const cmdline = readFileSync(`/proc/${readFileSync(join(sandbox.stateDir, 'qemu.pid'), 'utf8').trim()}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('-initrd') && !cmdline.some((a) => a.includes('rootfs.erofs')));
  });

  it('boots a q35 machine (PCI devices)', async () => {
    const { sandbox } = await vms().boot({ toml: '[hypervisor.qemu]\nmachine_type = "q35"' });
    assert.equal(await sandbox.agent.check(), 'serving');
  });
});
