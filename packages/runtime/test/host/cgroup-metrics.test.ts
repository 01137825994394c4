import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostCgroupMetrics } from '../../src/host/cgroup-metrics.js';

/** A cgroup directory of files, as cgroupfs shows them. */
function cgroup(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("a pod's host cgroup metrics (what SandboxMetrics reports)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-unit-cgroup-metrics-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("cgroup v1: memory, cpuacct and pids from their hierarchies (a hybrid host's unified one, with no controller, is passed over)", () => {
    const dirs = [
      cgroup(join(dir, 'unified/pod'), { 'cgroup.controllers': '', 'cgroup.procs': '1\n' }),
      cgroup(join(dir, 'memory/pod'), {
        'memory.usage_in_bytes': '209715200\n',
        'memory.limit_in_bytes': '9223372036854771712\n',
        'memory.max_usage_in_bytes': '300000000\n',
        'memory.failcnt': '0\n',
        'memory.stat': 'cache 100\nrss 200\ntotal_cache 1000\ntotal_rss 2000\ntotal_inactive_file 4096\n',
      }),
      cgroup(join(dir, 'cpuacct/pod'), { 'cpuacct.usage': '5000000000\n', 'cpuacct.stat': 'user 300\nsystem 200\n', 'cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 77\n' }),
      cgroup(join(dir, 'pids/pod'), { 'pids.current': '12\n', 'pids.max': 'max\n' }),
    ];
    const m = hostCgroupMetrics(dirs);
    assert.equal(m?.version, 1);
    if (m?.version !== 1) return;
    assert.deepEqual(m.metrics.memory?.usage, { usage: 209715200, limit: Number('9223372036854771712'), max: 300000000, failcnt: 0 }, 'as v1 gives them');
    assert.equal(m.metrics.memory?.totalInactiveFile, 4096);
    assert.deepEqual(m.metrics.cpu?.usage, { total: 5e9, kernel: 2e9, user: 3e9 }, 'ticks of USER_HZ as nanoseconds');
    assert.deepEqual(m.metrics.cpu?.throttling, { periods: 4, throttledPeriods: 1, throttledTime: 77 });
    assert.deepEqual(m.metrics.pids, { current: 12, limit: 2 ** 63 });
  });

  it('cgroup v2: from the one directory that accounts memory', () => {
    const m = hostCgroupMetrics([
      cgroup(join(dir, 'pod'), {
        'memory.current': '1048576\n',
        'memory.max': 'max\n',
        'memory.peak': '2097152\n',
        'memory.stat': 'anon 524288\nfile 4096\n',
        'cpu.stat': 'usage_usec 900\nuser_usec 600\nsystem_usec 300\n',
        'pids.current': '3\n',
        'pids.max': '100\n',
      }),
    ]);
    assert.equal(m?.version, 2);
    if (m?.version !== 2) return;
    assert.deepEqual(m.metrics.memory, { anon: 524288, file: 4096, usage: 1048576, usageLimit: 2 ** 63, maxUsage: 2097152 });
    assert.deepEqual([m.metrics.cpu?.usageUsec, m.metrics.cpu?.userUsec, m.metrics.cpu?.systemUsec], [900, 600, 300]);
    assert.deepEqual(m.metrics.pids, { current: 3, limit: 100 });
  });

  it('none readable: null', () => {
    assert.equal(hostCgroupMetrics([join(dir, 'gone')]), null);
  });
});
