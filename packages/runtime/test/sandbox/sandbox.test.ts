import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { agentWire } from '@mayu/protocol';
import pino from 'pino';
import { parseConfig } from '../../src/config/load-config.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { mountsUnder, removeDirSafely } from '../../src/storage/host-mounts.js';
import { AgentFault, fakeGuestImage, FakeAgent, fakeHypervisors, type FakeHypervisor } from '../../src/testing/index.js';

const log = pino({ level: 'silent' });

/**
 * The hypervisor-neutral Sandbox against a fake hypervisor (no VM) and a
 * fake agent: state transitions, the host side of a container, failure
 * paths, and capability checks. Real host mounts: tests run as root.
 */
describe('Sandbox (fake hypervisor, fake agent)', () => {
  let dir: string;
  let agent: FakeAgent;
  let image: string;
  beforeEach(async () => {
    dir = mkdtempSync('/run/mayu-unit-sandbox-');
    agent = await FakeAgent.start(dir);
    image = fakeGuestImage(join(dir, 'image'));
    mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
  });
  afterEach(async () => {
    await agent.stop();
    removeDirSafely(dir);
  });

  const config = (toml = '') => parseConfig(`[sandbox]\nguest_image_dir = "${image}"\n${toml}\n[runtime]\nstate_dir = "${dir}/state"\n[agent]\ncall_timeout = 2\ndial_timeout = 5\n`, 'test');
  const make = (o: { toml?: string; failStart?: number } = {}): { sandbox: Sandbox; made: FakeHypervisor[] } => {
    const { factory, made } = fakeHypervisors(agent.endpoint, { failStart: o.failStart });
    return { sandbox: Sandbox.create({ id: 'sb', config: config(o.toml), log, hypervisor: factory }), made };
  };
  const spec = {
    ociVersion: '1.0.2',
    process: { args: ['sh'], cwd: '/', apparmorProfile: '' },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
  };

  it('goes created → running → stopped, telling the hypervisor in order, and removes its state directory', async () => {
    const { sandbox, made } = make();
    assert.equal(sandbox.state, 'created');
    assert.equal(made[0]?.spec?.agentChannel, 'vsock', 'the channel the backend offers');
    assert.deepEqual(
      made[0]?.spec?.sharedDirs?.map((d) => [d.tag, d.attributes]),
      [
        ['mayushared', 'host'],
        ['mayuvolumes', 'mapped'],
      ],
    );
    await sandbox.start();
    assert.equal(sandbox.state, 'running');
    assert.equal(agent.count('CreateSandbox'), 1);
    await sandbox.stop();
    await sandbox.stop();
    assert.equal(sandbox.state, 'stopped');
    assert.deepEqual(made[0]?.calls, ['prepare', 'start', 'stop', 'cleanup']);
    assert.ok(!existsSync(join(dir, 'state/sandboxes/sb')));
    assert.deepEqual(mountsUnder(dir), []);
  });

  it('a VM that fails to start leaves nothing, and the sandbox cannot be started twice', async () => {
    const { sandbox } = make({ failStart: 1 });
    await assert.rejects(sandbox.start(), /the fake VM failed to start/);
    assert.equal(sandbox.state, 'stopped');
    assert.ok(!existsSync(join(dir, 'state/sandboxes/sb')));
    await assert.rejects(sandbox.start(), { code: 'ERR_INVALID_STATE', message: /cannot go from stopped to starting/ });
  });

  it('owns the host side of a container: the spec made fit for the guest, its rootfs shared, undone on removal', async () => {
    const { sandbox } = make();
    await sandbox.start();
    writeFileSync(join(dir, 'config.json'), '{}');
    await sandbox.createContainer({ id: 'c1', spec, bundle: dir, stdio: { terminal: true, stdin: false } });
    const sent = agentWire.CreateContainerRequest.decode(agent.lastRequest.get('CreateContainer') as Buffer);
    const guestSpec = JSON.parse(Buffer.from(sent.ociSpecJson).toString()) as { root: { path: string }; process: { terminal: boolean } };
    assert.equal(guestSpec.root.path, '/run/mayu/shared/c1/rootfs');
    assert.equal(guestSpec.process.terminal, true, 'the terminal follows the stdio asked for');
    assert.ok(mountsUnder(join(dir, 'state')).some((m) => m.endsWith('/fs/shared/c1/rootfs')));
    await assert.rejects(sandbox.createContainer({ id: 'c1', spec, bundle: dir, stdio: { terminal: false, stdin: false } }), { code: 'ERR_ALREADY_EXISTS' });
    await sandbox.removeContainer('c1');
    assert.ok(!mountsUnder(join(dir, 'state')).some((m) => m.includes('/c1/')));
    await sandbox.destroy();
  });

  it('refuses what the guest cannot honour before the agent hears of it, and undoes the host side when the agent refuses', async () => {
    const { sandbox } = make();
    await sandbox.start();
    await assert.rejects(
      sandbox.createContainer({ id: 'c2', spec: { ...spec, process: { ...spec.process, apparmorProfile: 'docker-default' } }, bundle: dir, stdio: { terminal: false, stdin: false } }),
      { code: 'ERR_INVALID_ARGUMENT', message: /^\/process\/apparmorProfile: the guest kernel has no AppArmor/ },
    );
    assert.equal(agent.count('CreateContainer'), 0);
    agent.set('CreateContainer', async () => {
      throw new AgentFault(status.INVALID_ARGUMENT, '/process/args: must not be empty');
    });
    await assert.rejects(sandbox.createContainer({ id: 'c3', spec, bundle: dir, stdio: { terminal: false, stdin: false } }), { code: 'ERR_INVALID_ARGUMENT', message: /must not be empty/ });
    assert.ok(!mountsUnder(join(dir, 'state')).some((m) => m.includes('/c3/')), 'the rootfs bind was undone');
    await sandbox.destroy();
  });

  it('exposes what callers need — pid, exit, agent endpoint — and a dead VM takes no agent calls', async () => {
    const { sandbox, made } = make();
    await sandbox.start();
    assert.equal(sandbox.agentEndpoint, agent.endpoint);
    assert.equal(sandbox.accel.accel, 'tcg');
    await sandbox.createContainer({ id: 'c4', spec, bundle: dir, stdio: { terminal: false, stdin: false } });
    made[0]?.die();
    assert.equal((await sandbox.exited()).signal, 'SIGKILL');
    await sandbox.removeContainer('c4');
    assert.equal(agent.count('RemoveContainer'), 0, 'the host side is undone without asking a dead VM');
    await sandbox.destroy();
  });

  it("a removal waiting on the agent ends when the VM dies, not at the call's deadline (found by chaos: a CRI pod's Delete outlived containerd's)", async () => {
    const { sandbox, made } = make();
    await sandbox.start();
    await sandbox.createContainer({ id: 'c5', spec, bundle: dir, stdio: { terminal: false, stdin: false } });
    agent.set('RemoveContainer', () => new Promise(() => {}));
    const removing = sandbox.removeContainer('c5', 1000);
    await new Promise((r) => setTimeout(r, 200));
    const diedAt = performance.now();
    made[0]?.die();
    await removing;
    assert.ok(performance.now() - diedAt < 1000, `settled ${Math.round(performance.now() - diedAt)} ms after the VM died (the call's deadline is 3 s)`);
    assert.equal(agent.count('RemoveContainer'), 1);
    await sandbox.destroy();
  });

  it('with templates, a VM that can grow boots at the default size (one template for every size) and grows to its own before it runs anything', async () => {
    const { factory, made } = fakeHypervisors(agent.endpoint);
    const sandbox = Sandbox.create({ id: 'sb', config: config('[factory]\ntemplate = true'), log, hypervisor: factory, vcpus: 3, memoryMib: 1536, growMemory: true });
    assert.deepEqual([made[0]?.spec?.vcpus, made[0]?.spec?.memoryMib], [1, 512], 'booted at the defaults');
    await sandbox.start();
    assert.ok(made[0]?.calls.includes('resizeMemory:1536'));
    const asked = agentWire.ResizeGuestRequest.decode(agent.lastRequest.get('ResizeGuest') ?? Buffer.alloc(0));
    assert.deepEqual([asked.vcpus, asked.addedMemoryBytes], [3, 1024 * 1048576]);
    assert.deepEqual(sandbox.vmSize, { vcpus: 3, memoryMib: 1536 });
    assert.deepEqual(await sandbox.resize({ vcpus: 2, memoryMib: 1024 }), { vcpus: 3, memoryMib: 1536 }, 'never shrinks');
    assert.deepEqual(await sandbox.resize({ vcpus: 64, memoryMib: 99999 }), { vcpus: 8, memoryMib: 8192 }, 'capped at max_vcpus / max_memory');
    await sandbox.stop();
    const cold = Sandbox.create({ id: 'sb2', config: config('[factory]\ntemplate = false'), log, hypervisor: factory, vcpus: 3, memoryMib: 1536, growMemory: true });
    assert.deepEqual([made.at(-1)?.spec?.vcpus, made.at(-1)?.spec?.memoryMib], [3, 1536], 'without templates it boots at its size: nothing to grow');
    await cold.destroy();
    const fixed = Sandbox.create({ id: 'sb3', config: config('[factory]\ntemplate = true'), log, hypervisor: factory, vcpus: 3, memoryMib: 1536 });
    assert.deepEqual(
      [made.at(-1)?.spec?.vcpus, made.at(-1)?.spec?.memoryMib, made.at(-1)?.spec?.maxMemoryMib],
      [1, 1536, undefined],
      'a VM that will not grow its memory boots with all of it (vCPUs still grow)',
    );
    await fixed.destroy();
  });

  it('asks the backend for capabilities instead of checking which it is', async () => {
    assert.throws(() => make({ toml: 'agent_channel = "serial"' }), { code: 'ERR_CONFIG_INVALID', message: /sandbox.agent_channel: hypervisor fake has no "serial" \(it offers: vsock\)/ });
    assert.throws(() => make({ toml: 'shared_fs = "virtio-fs"' }), { code: 'ERR_CONFIG_INVALID', message: /sandbox.shared_fs: hypervisor fake has no "virtio-fs" \(it offers: virtio-9p\)/ });
    assert.ok(!existsSync(join(dir, 'state/sandboxes/sb')), 'nothing is left of a refused sandbox');
    const { sandbox, made } = make({ toml: 'shared_fs = "none"' });
    assert.deepEqual(made[0]?.spec?.sharedDirs, []);
    await sandbox.destroy();
  });
});
