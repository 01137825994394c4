import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLimit, parseIoStat, parseKeyValues, parseLimit, readContainerStats } from '../../src/stats/cgroup-stats.js';
import { countProcesses } from '../../src/stats/metrics.js';

describe('container statistics', () => {
  it('parses cgroup v2 files', () => {
    assert.deepEqual(parseKeyValues('usage_usec 10\nuser_usec 7\nbogus\n'), { usage_usec: 10, user_usec: 7 });
    assert.equal(parseLimit('max\n'), 0);
    assert.equal(parseLimit('1048576\n'), 1048576);
    assert.deepEqual(parseIoStat('254:0 rbytes=100 wbytes=5 rios=1\n254:16 rbytes=1 wbytes=2\n'), { readBytes: 101, writeBytes: 7 });
  });

  it('reads a cgroup directory into container stats', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-cg-'));
    try {
      writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 500\nuser_usec 300\nsystem_usec 200\nnr_throttled 0\nthrottled_usec 0\n');
      writeFileSync(join(dir, 'memory.current'), '4096\n');
      writeFileSync(join(dir, 'memory.max'), '16777216\n');
      writeFileSync(join(dir, 'memory.stat'), 'anon 1000\nfile 3000\n');
      writeFileSync(join(dir, 'memory.events'), 'oom 1\noom_kill 1\n');
      writeFileSync(join(dir, 'pids.current'), '3\n');
      writeFileSync(join(dir, 'pids.max'), 'max\n');
      const s = readContainerStats(dir);
      assert.deepEqual(
        [s.cpu.usageUsec, s.memory.usageBytes, s.memory.limitBytes, s.memory.rssBytes, s.memory.cacheBytes, s.memory.oomKills, s.pids.current, s.pids.limit],
        [500, 4096, 16777216, 1000, 3000, 1, 3, 0],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a container without a memory limit has its nearest capped ancestor's (the containers' cap below the VM's memory); none capped is 0", () => {
    const root = mkdtempSync(join(tmpdir(), 'mayu-cg-'));
    try {
      const parent = join(root, 'mayu');
      const child = join(parent, 'c1');
      mkdirSync(child, { recursive: true });
      writeFileSync(join(root, 'memory.max'), 'max\n');
      writeFileSync(join(parent, 'memory.max'), '402653184\n');
      writeFileSync(join(child, 'memory.max'), 'max\n');
      assert.equal(memoryLimit(child), 402653184);
      writeFileSync(join(child, 'memory.max'), '1048576\n');
      assert.equal(memoryLimit(child), 1048576);
      writeFileSync(join(child, 'memory.max'), 'max\n');
      writeFileSync(join(parent, 'memory.max'), 'max\n');
      assert.equal(memoryLimit(child), 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('counts processes and zombies from /proc', () => {
    const proc = mkdtempSync(join(tmpdir(), 'mayu-proc-'));
    try {
      for (const [pid, stat] of [
        ['1', '1 (mayu-init) S 0'],
        ['20', '20 (sh (weird)) Z 1'],
        ['21', '21 (sleep) R 1'],
      ]) {
        mkdirSync(join(proc, pid));
        writeFileSync(join(proc, pid, 'stat'), stat);
      }
      mkdirSync(join(proc, 'self'));
      assert.deepEqual(countProcesses(proc), { processes: 3, zombies: 1 });
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
