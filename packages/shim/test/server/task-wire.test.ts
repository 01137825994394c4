import assert from 'node:assert/strict';
import { cgroupsV2Wire, type ContainerStats } from '@mayu/protocol';
import { metricsOf } from '../../src/server/task-wire.js';

const stats = (limitBytes: number): ContainerStats => ({
  cpu: { usageUsec: 5, userUsec: 3, systemUsec: 2, nrThrottled: 0, throttledUsec: 0 },
  memory: { usageBytes: 4096, limitBytes, maxUsageBytes: 0, cacheBytes: 0, rssBytes: 4096, oomKills: 0 },
  pids: { current: 1, limit: 0 },
  blkio: { readBytes: 0, writeBytes: 0 },
  timestampMs: 1,
});

describe('task metrics on the wire', () => {
  it('a memory limit is sent as it is; none is sent as cgroup v2 sends "max" (above 2^62, what CRI takes as unlimited), surviving the encoding', () => {
    const encoded = (limit: number) => Buffer.from(cgroupsV2Wire.Metrics.encode(metricsOf(stats(limit))).finish());
    assert.equal(cgroupsV2Wire.Metrics.decode(encoded(402653184)).memory?.usageLimit, 402653184);
    // 2^63 as a varint (beyond what this side decodes into a number): nine 0x80 bytes, then 0x01.
    assert.ok(encoded(0).includes(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), encoded(0).toString('hex'));
    assert.equal(metricsOf(stats(0)).memory?.usageLimit, 2 ** 63);
  });
});
