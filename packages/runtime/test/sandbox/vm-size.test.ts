import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { containerLimits, mayGrowMemory, podVmSize } from '../../src/sandbox/vm-size.js';

describe("a pod's VM size from its containers' limits", () => {
  const q = parseConfig('[sandbox]\ndefault_vcpus = 1\ndefault_memory = 512\nmax_vcpus = 4\nmax_memory = 2048\n', 'test').sandbox;

  it("reads a container's own limits: whole CPUs of its quota (rounded up), MiB of its memory limit; none is 0", () => {
    assert.deepEqual(containerLimits({ cpu: { quota: 150000, period: 100000 }, memory: { limit: 600 * 1048576 + 1 } }), { cpus: 2, mib: 601 });
    assert.deepEqual(containerLimits({ cpu: { quota: -1, period: 100000 }, memory: { limit: -1 } }), { cpus: 0, mib: 0 });
    assert.deepEqual(containerLimits(undefined), { cpus: 0, mib: 0 });
  });

  it('is the defaults plus the sum of the limits, capped at the maximum, and never less than the VM already has', () => {
    const booted = { vcpus: 1, memoryMib: 512 };
    assert.deepEqual(podVmSize(q, booted, []), booted);
    assert.deepEqual(
      podVmSize(q, booted, [
        { cpus: 2, mib: 600 },
        { cpus: 0, mib: 600 },
      ]),
      { vcpus: 3, memoryMib: 1712 },
    );
    assert.deepEqual(podVmSize(q, booted, [{ cpus: 9, mib: 4096 }]), { vcpus: 4, memoryMib: 2048 }, 'a sum beyond the maximum gets the maximum');
    assert.deepEqual(podVmSize(q, { vcpus: 3, memoryMib: 1536 }, [{ cpus: 1, mib: 100 }]), { vcpus: 3, memoryMib: 1536 }, 'sized at the start (containerd 1.7+): no growth for what it holds');
  });
});

describe('which VMs may have to grow their memory', () => {
  const pod = (annotations: Record<string, string>) => ({ annotations: { 'io.kubernetes.cri.container-type': 'sandbox', ...annotations } });

  it('a pod whose limits its sandbox does not carry (containerd 1.6, cri-o), or that has a memory limit (resize); not a pod known to have none, nor a standalone container', () => {
    assert.equal(mayGrowMemory(pod({})), true, 'containerd 1.6: limits come with the containers');
    assert.equal(mayGrowMemory({ annotations: { 'io.kubernetes.cri-o.ContainerType': 'sandbox' } }), true, 'cri-o');
    assert.equal(mayGrowMemory(pod({ 'io.kubernetes.cri.sandbox-memory': String(2 ** 30) })), true, 'a pod with a limit may be resized');
    assert.equal(mayGrowMemory(pod({ 'io.kubernetes.cri.sandbox-memory': '0' })), false, 'a pod without limits');
    assert.equal(mayGrowMemory({ linux: { resources: { memory: { limit: 2 ** 30 } } } }), false, 'ctr run -m: sized at boot');
  });
});
