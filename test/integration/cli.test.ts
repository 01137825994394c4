import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { runMayu } from '../helpers/run-cli.js';

describe('mayu CLI', () => {
  const vms = useGuestFactory();

  it('boot --json prints one JSON object with the guest kernel, agent version and timings', async () => {
    const r = await runMayu(['boot', '--json', '--config', vms().configFile()]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    assert.match(String(out.guest?.kernelRelease), /^6\.1\.\d+$/);
    assert.match(String(out.agent?.version), /^\d+\.\d+\.\d+/);
    // Templates are on (QEMU): the first boot of this kind builds the template, and every boot is a clone of it.
    const clone = vms().config().sandbox.hypervisor === 'qemu';
    assert.equal(out.timings?.restored, clone);
    for (const k of ['spawnMs', 'firstRpcMs']) assert.equal(typeof out.timings?.[k], 'number', k);
    for (const k of ['kernelStartMs', 'agentListeningMs']) assert.equal(typeof out.timings?.[k], clone ? 'object' : 'number', `${k}: a clone did not boot`);
    assert.equal(out.kept, false);
    assert.deepEqual(readdirSync(join(vms().stateRoot, 'sandboxes')), [], 'the sandbox was removed');
  });

  it('boot --json of a cold boot times every milestone', async () => {
    const r = await runMayu(['boot', '--json', '--config', vms().configFile('[factory]\ntemplate = false\n')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    assert.equal(out.timings?.restored, false);
    for (const k of ['spawnMs', 'kernelStartMs', 'agentListeningMs', 'firstRpcMs']) assert.equal(typeof out.timings?.[k], 'number', k);
  });

  it('boot prints the guest kernel and a boot breakdown', async () => {
    const r = await runMayu(['boot', '--config', vms().configFile()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^guest kernel {3}6\.1\.\d+ {3}\(host /m);
    assert.match(r.stdout, /^ {2}first rpc +\d+ ms$/m);
    assert.match(r.stdout, /^shut down in \d+ ms$/m);
  });

  it('boot --keep leaves the VM running until rm --force', async () => {
    const config = vms().configFile();
    const r = await runMayu(['boot', '--keep', '--json', '--id', 'kept', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { pid: number; stateDir: string };
    assert.ok(
      processesMentioning(out.stateDir).some((p) => p.pid === out.pid),
      'QEMU still runs',
    );
    const ps = await runMayu(['ps', '--json', '--config', config]);
    assert.deepEqual(
      (JSON.parse(ps.stdout) as { id: string; kind: string; status: string }[]).map((s) => [s.id, s.kind, s.status]),
      [['kept', 'sandbox', 'running']],
    );
    const refused = await runMayu(['rm', '--config', config, 'kept']);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /sandbox kept is running .* use --force \[ERR_INVALID_STATE\]/);
    assert.equal((await runMayu(['rm', '--force', '--config', config, 'kept'])).code, 0);
    assert.deepEqual(processesMentioning(out.stateDir), []);
    assert.ok(!existsSync(out.stateDir));
  });

  it('a bad configuration is rejected, naming key and value, and starts nothing', async () => {
    const bad = join(vms().stateRoot, 'bad.toml');
    writeFileSync(bad, `[hypervisor.qemu]\nmachine_type = "pc-i440fx"\ndefault_vcpus = 0\n[runtime]\nstate_dir = "${vms().stateRoot}"\n`);
    const r = await runMayu(['boot', '--config', bad]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /hypervisor\.qemu\.machine_type: must be one of "auto", "microvm", "q35" \(got "pc-i440fx"\)/);
    assert.match(r.stderr, /sandbox\.default_vcpus: must be >= 1 \(got 0\) \(given as the deprecated hypervisor\.qemu\.default_vcpus\)/);
    assert.match(r.stderr, /\[ERR_CONFIG_INVALID\]/);
    assert.ok(!existsSync(join(vms().stateRoot, 'sandboxes')), 'no state directory was created');
    assert.deepEqual(processesMentioning(vms().stateRoot), []);
  });

  it('check --json reports each capability and a verdict', async () => {
    const r = await runMayu(['check', '--json', '--config', vms().configFile()]);
    const report = JSON.parse(r.stdout) as { checks: { name: string; status: string }[]; canRun: boolean; verdict: string };
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['kvm', 'vhost-vsock', 'qemu', 'cloud-hypervisor', 'vmm-confinement', 'guest-image', 'templates'],
    );
    const templates = report.checks.find((c) => c.name === 'templates') as { status: string; detail?: string };
    assert.match(String(templates.detail), vms().config().sandbox.hypervisor === 'qemu' ? /^on: \d+ templates? in / : /cannot restore a VM yet/);
    assert.equal(report.canRun, true);
    assert.equal(r.code, 0);
    assert.match(report.verdict, /^ready: sandboxes boot with (KVM|TCG)/);
  });

  it('usage errors exit 2', async () => {
    const r = await runMayu(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.equal((await runMayu(['boot', '--no-such-flag'])).code, 2);
  });
});
