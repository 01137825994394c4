import assert from 'node:assert/strict';
import { isMayuError } from '@mayu/protocol';
import { admitVm, meminfoMib } from '../../src/host/memory-admission.js';

describe('host memory admission', () => {
  it('admits a VM the available memory holds with the reserve', () => {
    admitVm({ id: 'a', memoryMib: 512, reserveMib: 256, availableMib: 768, running: [] });
  });

  it('counts what running VMs may still claim (their size less their RSS), and refuses with every figure', () => {
    const running = [
      { id: 'r1', memoryMib: 1024, rssMib: 200 },
      { id: 'r2', memoryMib: 512, rssMib: 600 }, // over its size (QEMU's own memory): claims nothing more
    ];
    admitVm({ id: 'ok', memoryMib: 512, reserveMib: 256, availableMib: 512 + 824 + 256, running });
    assert.throws(
      () => admitVm({ id: 'big', memoryMib: 512, reserveMib: 256, availableMib: 512 + 824 + 255, running }),
      (err: unknown) => {
        assert.ok(isMayuError(err, 'ERR_RESOURCE_EXHAUSTED'));
        assert.match(
          err.message,
          /sandbox big: not enough host memory for a VM of 512 MiB: the host has 1591 MiB available, 824 MiB of it may yet be claimed by 2 running VM\(s\), and runtime.host_memory_reserve keeps 256 MiB/,
        );
        assert.deepEqual(err.details, { id: 'big', memoryMib: 512, availableMib: 1591, claimableMib: 824, runningVms: 2, reserveMib: 256 });
        return true;
      },
    );
  });

  it('a reserve of 0 turns the check off', () => {
    admitVm({ id: 'any', memoryMib: 1 << 20, reserveMib: 0, availableMib: 10, running: [] });
  });

  it('reads /proc/meminfo fields in MiB', () => {
    const text = 'MemTotal:       24576000 kB\nMemAvailable:   2048000 kB\n';
    assert.equal(meminfoMib(text, 'MemAvailable'), 2000);
    assert.ok(Number.isNaN(meminfoMib(text, 'VmRSS')));
  });
});
