import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load-config.js';
import { parseClhVersion } from '../../../src/hypervisor/clh/version.js';
import { cloudHypervisorCheck } from '../../../src/host/host-check.js';
import type { RuntimeConfig } from '../../../src/config/runtime-config.js';

describe('Cloud Hypervisor version and `mayu check`', () => {
  it('reads --version and vmm.ping versions', () => {
    assert.deepEqual(parseClhVersion('cloud-hypervisor v41.0.0\n'), { major: 41, minor: 0, text: 'v41.0.0' });
    assert.deepEqual(parseClhVersion('v53.0'), { major: 53, minor: 0, text: 'v53.0' });
    assert.deepEqual(parseClhVersion('cloud-hypervisor v32.0.0-0-gc3a3cd'), { major: 32, minor: 0, text: 'v32.0.0-0-gc3a3cd' });
    assert.equal(parseClhVersion('garbage'), null);
  });

  const config = (hypervisor: 'qemu' | 'clh'): RuntimeConfig => {
    const c = loadConfig();
    return { ...c, sandbox: { ...c.sandbox, hypervisor } };
  };
  const v = (text: string) => () => parseClhVersion(text);

  it('ok when present (noting a version newer than mayu knows); warn when absent or too old with QEMU configured; fail with clh', () => {
    assert.deepEqual(cloudHypervisorCheck(config('qemu'), v('cloud-hypervisor v51.1.0')), { name: 'cloud-hypervisor', status: 'ok', detail: 'Cloud Hypervisor v51.1.0 (cloud-hypervisor)' });
    assert.match(cloudHypervisorCheck(config('clh'), v('v60.0')).detail, /newer than v53/);
    const absent = cloudHypervisorCheck(config('qemu'), () => null);
    assert.equal(absent.status, 'warn');
    assert.match(absent.detail, /cloud-hypervisor cannot be run \(needed only with sandbox\.hypervisor = "clh"\)/);
    assert.equal(cloudHypervisorCheck(config('clh'), () => null).status, 'fail');
    assert.equal(cloudHypervisorCheck(config('qemu'), v('v40.0')).status, 'warn');
    assert.equal(cloudHypervisorCheck(config('clh'), v('v40.0')).status, 'fail');
  });
});
