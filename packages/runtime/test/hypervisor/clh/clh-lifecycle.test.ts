import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { AgentClient } from '../../../src/agent/agent-client.js';
import { VMM_UID_BASE } from '../../../src/hypervisor/vmm-user.js';
import { processCmdline, processExists } from '../../../src/util/process.js';
import { ClhHarness } from './clh-harness.js';
import { schemaErrors, type BodySchema } from './fake-clh/schema.js';

/** A line of /proc/PID/status. */
const status = (pid: number, key: string): string => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';

async function agentOf(h: ClhHarness, timeoutMs = 3000): Promise<AgentClient> {
  return AgentClient.open({
    endpoint: h.hypervisor.agentEndpoint(),
    bridgeSocket: join(h.dir, 'bridge.sock'),
    dialTimeoutMs: timeoutMs,
    callTimeoutMs: timeoutMs,
    log: pino({ level: 'silent' }),
  });
}

const BODY_OF: Record<string, BodySchema> = { 'vm.create': 'VmConfig' };

describe('Cloud Hypervisor driver against the fake cloud-hypervisor', function () {
  this.timeout(15_000);
  let h: ClhHarness | null = null;
  afterEach(async () => {
    await h?.dispose();
    h = null;
  });

  it('boots, reaches the agent over hybrid vsock, pauses, resumes and powers off; every request passes the strict schema', async () => {
    h = await ClhHarness.create();
    const hv = h.hypervisor;
    hv.prepare(h.spec());
    assert.equal(hv.agentEndpoint(), `hvsock://${h.stateDir}/clh/vsock.sock:1024`);
    const started = await hv.start();
    assert.equal(started.pid, hv.pid);
    assert.ok(started.runningAt >= started.spawnedAt);

    // run_as = "auto", /dev/kvm usable by anyone: CH runs as the sandbox's own uid, with nothing.
    const pid = hv.pid as number;
    const uid = Number(status(pid, 'Uid').split(/\s+/)[0]);
    assert.ok(uid >= VMM_UID_BASE, `uid ${uid}`);
    assert.equal(status(pid, 'CapEff'), '0000000000000000');
    assert.equal(status(pid, 'CapBnd'), '0000000000000000');
    assert.equal(status(pid, 'NoNewPrivs'), '1');

    const agent = await agentOf(h);
    try {
      assert.equal(await agent.check(), 'serving');
      await hv.pause();
      await assert.rejects(agent.check({ timeoutMs: 300 }), { code: 'ERR_AGENT_TIMEOUT' });
      await hv.resume();
      assert.equal(await agent.check(), 'serving');
    } finally {
      agent.close();
    }
    await assert.rejects(hv.resume(), { code: 'ERR_INVALID_STATE', message: /from running to running/ });

    // The kernel console (serial socket) went to console.log; the agent's console (pty) to the guest log relay.
    assert.match(readFileSync(join(h.stateDir, 'console.log'), 'utf8'), /Linux version 6\.1\.0-fake/);
    assert.match(h.guestLog, /"msg":"fake guest agent started"/);

    await hv.stop(3000);
    assert.deepEqual(await hv.wait(), { code: 0, signal: null });
    assert.deepEqual(h.endpoints(), ['vm.create', 'vm.info', 'vm.boot', 'vm.info', 'vm.pause', 'vm.resume', 'vm.power-button']);
    for (const r of h.requests()) {
      assert.ok(r.status >= 200 && r.status < 300, `${r.endpoint}: ${r.status}`);
      const schema = BODY_OF[r.endpoint];
      if (schema) assert.deepEqual(schemaErrors(schema, r.body), [], r.endpoint);
      else assert.equal(r.body, undefined, `${r.endpoint} sent a body`);
    }
    await hv.cleanup();
    assert.deepEqual(h.socketsLeft(), []);
  });

  it('shuts the VM down (vm.shutdown, vmm.shutdown) when the guest ignores the power button', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_IGNORE_POWER_BUTTON: '1' } });
    h.hypervisor.prepare(h.spec());
    await h.hypervisor.start();
    const t0 = performance.now();
    await h.hypervisor.stop(200);
    assert.ok(performance.now() - t0 < 2000);
    assert.deepEqual(await h.hypervisor.wait(), { code: 0, signal: null });
    assert.deepEqual(h.endpoints().slice(-3), ['vm.power-button', 'vm.shutdown', 'vmm.shutdown']);
  });

  it('stops a paused VM without the power button (a paused guest cannot take it)', async () => {
    h = await ClhHarness.create();
    h.hypervisor.prepare(h.spec());
    await h.hypervisor.start();
    await h.hypervisor.pause();
    await h.hypervisor.stop(200);
    const last = h.requests().slice(-3);
    assert.deepEqual(
      last.map((r) => [r.endpoint, r.status]),
      [
        ['vm.power-button', 500],
        ['vm.shutdown', 204],
        ['vmm.shutdown', 204],
      ],
    );
    assert.equal(processExists(h.hypervisor.pid as number), false);
  });

  it('stays root without any capability when /dev/kvm is root-only (run_as = "auto")', async () => {
    h = await ClhHarness.create({ kvmDevice: 'root' });
    h.hypervisor.prepare(h.spec());
    await h.hypervisor.start();
    const pid = h.hypervisor.pid as number;
    assert.equal(status(pid, 'Uid').split(/\s+/)[0], '0');
    assert.equal(status(pid, 'CapEff'), '0000000000000000');
    assert.equal(status(pid, 'CapBnd'), '0000000000000000');
    assert.equal(status(pid, 'NoNewPrivs'), '1');
  });

  it('works with a v46 VMM (plain-text errors, serial output lost without a client): the consoles are open before vm.boot', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_VERSION: 'v46.0' }, runAs: 'root' });
    h.hypervisor.prepare(h.spec({ rootfs: { kind: 'initrd', path: join(h.dir, 'image', 'vmlinux') } }));
    await h.hypervisor.start();
    assert.match(readFileSync(join(h.stateDir, 'console.log'), 'utf8'), /Linux version/);
    const create = h.requests().find((r) => r.endpoint === 'vm.create');
    assert.equal((create?.body as { payload: { initramfs?: string } }).payload.initramfs, join(h.dir, 'image', 'vmlinux'));
    h.hypervisor.disconnect();
    assert.ok(processExists(h.hypervisor.pid as number), 'disconnect leaves the VM running');
  });

  it('shares a directory over virtio-fs: virtiofsd first (its socket handed to the unprivileged VMM), shared guest memory', async () => {
    h = await ClhHarness.create();
    const share = join(h.dir, 'share');
    mkdirSync(share);
    h.hypervisor.prepare(h.spec({ sharedDirs: [{ id: 'shared', path: share, tag: 'mayushared', kind: 'virtio-fs', attributes: 'host' }] }));
    await h.hypervisor.start();
    assert.ok(Number(status(h.hypervisor.pid as number, 'Uid').split(/\s+/)[0]) >= VMM_UID_BASE);
    const body = h.requests().find((r) => r.endpoint === 'vm.create')?.body as { fs: { tag: string; socket: string }[]; memory: { shared?: boolean } };
    assert.deepEqual(
      body.fs.map((f) => [f.tag, f.socket]),
      [['mayushared', join(h.stateDir, 'virtiofsd.sock')]],
    );
    assert.equal(body.memory.shared, true);
    const virtiofsd = readdirSync('/proc').filter(
      (p) => /^\d+$/.test(p) && (processCmdline(Number(p)) ?? []).some((a) => a.endsWith('fake-virtiofsd.mjs')) && (processCmdline(Number(p)) ?? []).includes(share),
    );
    assert.equal(virtiofsd.length, 1);
    await h.hypervisor.stop(2000);
    await h.hypervisor.cleanup();
    assert.equal(processExists(Number(virtiofsd[0])), false, 'virtiofsd stops with the VM');
    assert.deepEqual(h.socketsLeft(), []);
  });

  it('destroy() kills it, and is idempotent', async () => {
    h = await ClhHarness.create();
    h.hypervisor.prepare(h.spec());
    await h.hypervisor.start();
    await h.hypervisor.destroy();
    await h.hypervisor.destroy();
    assert.notEqual((await h.hypervisor.wait()).signal ?? (await h.hypervisor.wait()).code, 0);
    await h.hypervisor.stop(100);
    await h.hypervisor.cleanup();
    assert.deepEqual(h.socketsLeft(), []);
  });
});
