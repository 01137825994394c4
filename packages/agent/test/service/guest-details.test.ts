import assert from 'node:assert/strict';
import { collectGuestDetails, countCpuList, parseMeminfo } from '../../src/service/guest-details.js';

describe('guest details', () => {
  it('parses /proc/meminfo', () => {
    const text = 'MemTotal:        1000 kB\nMemFree:          500 kB\nMemAvailable:     600 kB\n';
    assert.deepEqual(parseMeminfo(text), { totalBytes: 1024000, availableBytes: 614400 });
  });

  it('counts CPU lists', () => {
    assert.equal(countCpuList('0\n'), 1);
    assert.equal(countCpuList('0-3'), 4);
    assert.equal(countCpuList('0-1,4,6-7'), 5);
  });

  it('collects what this machine is (on a developer host)', () => {
    const boot = { initStartMs: 1, agentProcessStartMs: 2, agentMainMs: 3, agentListeningMs: 4 };
    const d = collectGuestDetails(boot, ['serial://x']);
    assert.match(d.kernelRelease, /^\d+\.\d+/);
    assert.equal(d.nodeVersion, process.version);
    assert.ok(d.memory.totalBytes > 0 && d.onlineCpus >= 1 && d.uptimeMs > 0);
    assert.deepEqual(d.boot, boot);
    assert.deepEqual(d.channels, ['serial://x']);
  });
});
