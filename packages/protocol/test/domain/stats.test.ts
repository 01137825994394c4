import assert from 'node:assert/strict';
import { GUEST_REPLY_LIMITS as LIMITS, type WireIssue } from '../../src/domain/guest-reply.js';
import { containerStatsFromWire, containerStatsToWire, oomEventFromWire, type ContainerStats } from '../../src/domain/stats.js';
import { StatsContainerResponse } from '../../src/gen/mayu/agent/v1/agent.js';

const stats: ContainerStats = {
  cpu: { usageUsec: 10, userUsec: 6, systemUsec: 4, nrThrottled: 0, throttledUsec: 0 },
  memory: { usageBytes: 1 << 20, limitBytes: 2 ** 40, maxUsageBytes: 2 << 20, cacheBytes: 0, rssBytes: 4096, oomKills: 1 },
  pids: { current: 3, limit: 100 },
  blkio: { readBytes: 2 ** 53 - 1, writeBytes: 0 },
  timestampMs: 99.5,
};

describe('stats replies from the guest', () => {
  it('round-trips stats within bounds, reporting nothing', () => {
    const issues: WireIssue[] = [];
    const bytes = StatsContainerResponse.encode(containerStatsToWire(stats)).finish();
    assert.deepEqual(
      containerStatsFromWire(StatsContainerResponse.decode(bytes), (i) => issues.push(i)),
      stats,
    );
    assert.deepEqual(issues, []);
  });

  it('reads missing groups as zeros', () => {
    const s = containerStatsFromWire(StatsContainerResponse.decode(new Uint8Array()));
    assert.deepEqual(s.cpu, { usageUsec: 0, userUsec: 0, systemUsec: 0, nrThrottled: 0, throttledUsec: 0 });
    assert.deepEqual(s.pids, { current: 0, limit: 0 });
  });

  it('makes negative or non-finite counters 0, rounds fractions down, clamps huge ones, and reports each', () => {
    const issues: WireIssue[] = [];
    const s = containerStatsFromWire(
      {
        cpu: { usageUsec: -1, userUsec: NaN, systemUsec: 2.7, nrThrottled: 1e300, throttledUsec: Infinity },
        memory: undefined,
        pids: { current: 5, limit: -0 },
        blkio: undefined,
        networks: [],
        timestampMs: -3,
      },
      (i) => issues.push(i),
    );
    assert.deepEqual(s.cpu, { usageUsec: 0, userUsec: 0, systemUsec: 2, nrThrottled: LIMITS.maxNumber, throttledUsec: 0 });
    assert.equal(s.timestampMs, 0);
    assert.deepEqual(
      issues.map((i) => i.field),
      [
        'StatsContainer.cpu.usage_usec',
        'StatsContainer.cpu.user_usec',
        'StatsContainer.cpu.system_usec',
        'StatsContainer.cpu.nr_throttled',
        'StatsContainer.cpu.throttled_usec',
        'StatsContainer.timestamp_ms',
      ],
    );
  });

  it('cuts an OOM event container id to maxString', () => {
    assert.equal(oomEventFromWire({ containerId: 'pod-1' }), 'pod-1');
    assert.equal(oomEventFromWire({ containerId: 'x'.repeat(10_000) }).length, LIMITS.maxString);
  });
});
