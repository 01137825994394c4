import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AgentClient } from '../../../src/agent/agent-client.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { gatherKvmFacts, kvmVerdict } from '../../../src/host/accel.js';
import { locateGuestImage, type GuestImage } from '../../../src/host/guest-image.js';
import { CloudHypervisor } from '../../../src/hypervisor/clh/clh-hypervisor.js';
import { clhVersion } from '../../../src/hypervisor/clh/version.js';

/**
 * The lifecycle of clh-lifecycle.test.ts against a real cloud-hypervisor,
 * booting the built guest image. Runs only where the binary (MAYU_TEST_CLH or
 * hypervisor.clh.path), a usable KVM and a guest image are all there; else
 * it is skipped, saying which is missing.
 */
function missing(): { reason: string } | { binary: string; image: GuestImage } {
  const config = loadConfig();
  const binary = process.env.MAYU_TEST_CLH ?? config.hypervisor.clh.path;
  if (!clhVersion(binary)) return { reason: `no cloud-hypervisor binary (${binary} cannot be run; set MAYU_TEST_CLH)` };
  const kvm = kvmVerdict(gatherKvmFacts());
  if (!kvm.usable) return { reason: `KVM is not usable: ${kvm.reason}` };
  try {
    return { binary, image: locateGuestImage(config.sandbox.guestImageDir) };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

describe('Cloud Hypervisor driver against a real cloud-hypervisor', function () {
  this.timeout(60_000);

  it('boots the guest image, reaches the agent over hybrid vsock, pauses, resumes and stops', async function () {
    const found = missing();
    if ('reason' in found) {
      console.log(`      skipped: ${found.reason}`);
      this.skip();
    }
    const config = loadConfig();
    const dir = mkdtempSync(join(tmpdir(), 'mayu-real-clh-'));
    chmodSync(dir, 0o755);
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    const hv = new CloudHypervisor({ config: { ...config.hypervisor.clh, path: found.binary }, sandbox: config.sandbox, log: pino({ level: 'silent' }) });
    try {
      hv.prepare({
        id: 'real-clh',
        stateDir,
        vcpus: 1,
        memoryMib: 512,
        kernel: found.image.kernel,
        rootfs: { kind: 'image', path: found.image.image, fsType: found.image.manifest.rootfsImageType },
        agentChannel: 'vsock',
        kernelParams: '',
        debug: false,
        dieWithParent: true,
      });
      await hv.start();
      const agent = await AgentClient.open({ endpoint: hv.agentEndpoint(), bridgeSocket: join(dir, 'bridge.sock'), dialTimeoutMs: 30_000, callTimeoutMs: 10_000, log: pino({ level: 'silent' }) });
      try {
        await agent.waitReady();
        await hv.pause();
        await hv.resume();
        assert.equal(await agent.check(), 'serving');
      } finally {
        agent.close();
      }
      await hv.stop(10_000);
      await hv.wait();
    } finally {
      await hv.destroy();
      await hv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
