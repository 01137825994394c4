import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isMayuError, type MayuError } from '@mayu/protocol';
import { processExists } from '../../../src/util/process.js';
import { ClhHarness } from './clh-harness.js';

/** Runs start(), which must fail; returns the error and how long it took. */
async function failedStart(h: ClhHarness): Promise<{ err: MayuError; ms: number }> {
  const t0 = performance.now();
  try {
    await h.hypervisor.start();
  } catch (err) {
    assert.ok(isMayuError(err), String(err));
    return { err, ms: performance.now() - t0 };
  }
  assert.fail('start() succeeded');
}

/** Nothing of the VMM is left: no process, no socket. */
function nothingLeft(h: ClhHarness, pid: number | null): void {
  if (pid !== null) assert.equal(processExists(pid), false, `pid ${pid} still exists`);
  assert.deepEqual(h.socketsLeft(), []);
}

describe('Cloud Hypervisor driver: failures', function () {
  this.timeout(15_000);
  let h: ClhHarness | null = null;
  afterEach(async () => {
    await h?.dispose();
    h = null;
  });

  it('surfaces a 500 with its JSON error chain (v47+), naming the endpoint, and leaves nothing', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_FAIL: 'vm.boot:500' } });
    h.hypervisor.prepare(h.spec());
    const { err } = await failedStart(h);
    assert.equal(err.code, 'ERR_HYPERVISOR_START');
    assert.match(err.message, /PUT vm\.boot: 500 Internal Server Error: Error from API: Injected failure of vm\.boot: fake: FAKE_CLH_FAIL/);
    assert.equal(err.details.status, 500);
    assert.equal(err.details.endpoint, 'vm.boot');
    nothingLeft(h, h.hypervisor.pid);
    assert.equal((await h.hypervisor.wait()).code === 0, false);
  });

  it('surfaces a 4xx plain-text body of a pre-v47 VMM', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_VERSION: 'v44.0', FAKE_CLH_FAIL: 'vm.create:400' } });
    h.hypervisor.prepare(h.spec());
    const { err } = await failedStart(h);
    assert.equal(err.code, 'ERR_HYPERVISOR_START');
    assert.match(err.message, /PUT vm\.create: 400 Bad Request: Error from API: Injected failure of vm\.create/);
    assert.equal(err.details.body, 'Error from API: Injected failure of vm.create: fake: FAKE_CLH_FAIL');
    nothingLeft(h, h.hypervisor.pid);
  });

  it('fails within api_timeout when the API socket never appears, and kills the VMM', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_NO_API_SOCKET: '1' }, apiTimeoutMs: 700 });
    h.hypervisor.prepare(h.spec());
    const { err, ms } = await failedStart(h);
    assert.equal(err.code, 'ERR_HYPERVISOR_START');
    assert.match(err.message, /API socket .*api\.sock did not answer within 700 ms \(hypervisor\.clh\.api_timeout\)/);
    assert.match(err.message, /not creating the API socket/, 'the tail of its log');
    assert.ok(ms < 700 + 2500, `${ms} ms`);
    nothingLeft(h, h.hypervisor.pid);
  });

  it('says the VMM exited when it dies during start-up, and wait() resolves', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_DIE_ON: 'vm.boot' } });
    h.hypervisor.prepare(h.spec());
    const { err } = await failedStart(h);
    assert.equal(err.code, 'ERR_HYPERVISOR_START');
    assert.match(err.message, /^Cloud Hypervisor exited during start-up \(code 3\)/);
    assert.match(err.message, /dying on vm\.boot/);
    assert.deepEqual(await h.hypervisor.wait(), { code: 3, signal: null });
    nothingLeft(h, h.hypervisor.pid);
  });

  it('resolves wait() when the VMM dies after boot; pause() is then refused', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_DIE_AFTER_BOOT: '100' } });
    h.hypervisor.prepare(h.spec());
    await h.hypervisor.start();
    assert.deepEqual(await h.hypervisor.wait(), { code: 3, signal: null });
    await assert.rejects(h.hypervisor.pause(), { code: 'ERR_INVALID_STATE', message: /from exited to paused/ });
    await h.hypervisor.stop(100);
    await h.hypervisor.cleanup();
    nothingLeft(h, h.hypervisor.pid);
  });

  it('refuses to start without KVM, saying Cloud Hypervisor needs it', async () => {
    h = await ClhHarness.create({ kvmUsable: false });
    assert.equal(h.hypervisor.accel.accel, 'kvm');
    assert.match(h.hypervisor.accel.reason, /^Cloud Hypervisor needs KVM: /);
    h.hypervisor.prepare(h.spec());
    await assert.rejects(h.hypervisor.start(), { code: 'ERR_HOST_CAPABILITY', message: /^Cloud Hypervisor needs KVM: \/dev\/kvm/ });
    assert.equal(h.hypervisor.pid, null);
  });

  it('refuses a VMM older than v41', async () => {
    h = await ClhHarness.create({ env: { FAKE_CLH_VERSION: 'v40.0' } });
    h.hypervisor.prepare(h.spec());
    const { err } = await failedStart(h);
    assert.equal(err.code, 'ERR_HOST_CAPABILITY');
    assert.match(err.message, /v40\.0 is older than v41/);
    nothingLeft(h, h.hypervisor.pid);
  });

  it('fails clearly when the binary is missing', async () => {
    h = await ClhHarness.create({ binary: '/nonexistent/cloud-hypervisor' });
    h.hypervisor.prepare(h.spec());
    const { err, ms } = await failedStart(h);
    assert.equal(err.code, 'ERR_HYPERVISOR_START');
    assert.match(err.message, /exited during start-up[^]*\/nonexistent\/cloud-hypervisor/);
    assert.ok(ms < 1500, `${ms} ms`);
    nothingLeft(h, h.hypervisor.pid);
  });

  it("passes CH's boot-time validation error through (a kernel it cannot read)", async () => {
    h = await ClhHarness.create();
    h.hypervisor.prepare(h.spec({ kernel: join(h.dir, 'missing-vmlinux') }));
    const { err } = await failedStart(h);
    assert.match(err.message, /PUT vm\.boot: 500 Internal Server Error: Error from API: The VM could not boot: Cannot open .*missing-vmlinux/);
    nothingLeft(h, h.hypervisor.pid);
  });
});
