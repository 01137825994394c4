import assert from 'node:assert/strict';
import { CheckResponse, GuestDetails as WireGuestDetails } from '../../src/gen/mayu/agent/v1/agent.js';
import { guestDetailsFromWire, guestDetailsToWire, type GuestDetails } from '../../src/domain/guest-details.js';
import { GUEST_REPLY_LIMITS as LIMITS, type WireIssue } from '../../src/domain/guest-reply.js';
import { servingStatusFromWire, servingStatusToWire } from '../../src/domain/health.js';

const details: GuestDetails = {
  kernelRelease: '6.1.192',
  kernelVersion: '#1 SMP',
  agentVersion: '0.1.0',
  nodeVersion: 'v20.20.2',
  hostname: 'mayu',
  memory: { totalBytes: 500 * 1048576, availableBytes: 400 * 1048576, blockSizeBytes: 134217728 },
  onlineCpus: 2,
  uptimeMs: 1234.5,
  boot: { initStartMs: 600.25, agentProcessStartMs: 800, agentMainMs: 2000, agentListeningMs: 2100 },
  channels: ['serial://agent.channel.0', 'vsock://-1:1024'],
  ociRuntime: 'crun version 1.8.1',
};

describe('protocol conversions', () => {
  it('round-trips guest details through protobuf bytes', () => {
    const bytes = WireGuestDetails.encode(guestDetailsToWire(details)).finish();
    assert.deepEqual(guestDetailsFromWire(WireGuestDetails.decode(bytes)), details);
  });

  it('fills missing boot timestamps with zeros', () => {
    const wire = WireGuestDetails.decode(WireGuestDetails.encode(WireGuestDetails.fromPartial({ kernelRelease: 'x' })).finish());
    assert.deepEqual(guestDetailsFromWire(wire).boot, { initStartMs: 0, agentProcessStartMs: 0, agentMainMs: 0, agentListeningMs: 0 });
  });

  it('bounds what a hostile guest reports: strings, channels, sizes and times', () => {
    const issues: WireIssue[] = [];
    const wire = WireGuestDetails.fromPartial({
      kernelRelease: 'k'.repeat(100_000),
      memoryTotalBytes: -1,
      uptimeMs: NaN,
      boot: { initStartMs: -Infinity, agentMainMs: 1e300 },
      channels: Array.from({ length: 1000 }, (_, i) => `serial://${i}`),
    });
    const d = guestDetailsFromWire(wire, (i) => issues.push(i));
    assert.equal(d.kernelRelease.length, LIMITS.maxString);
    assert.equal(d.channels.length, LIMITS.maxChannels);
    assert.deepEqual([d.memory.totalBytes, d.uptimeMs, d.boot.initStartMs, d.boot.agentMainMs], [0, 0, 0, LIMITS.maxNumber]);
    assert.deepEqual(
      issues.map((i) => i.field),
      [
        'GetGuestDetails.kernel_release',
        'GetGuestDetails.memory_total_bytes',
        'GetGuestDetails.uptime_ms',
        'GetGuestDetails.boot.init_start_ms',
        'GetGuestDetails.boot.agent_main_ms',
        'GetGuestDetails.channels',
      ],
    );
  });

  it('round-trips serving status', () => {
    for (const s of ['serving', 'not-serving', 'unknown'] as const) {
      const bytes = CheckResponse.encode({ status: servingStatusToWire(s) }).finish();
      assert.equal(servingStatusFromWire(CheckResponse.decode(bytes).status), s);
    }
    assert.equal(servingStatusFromWire(CheckResponse.decode(CheckResponse.encode({ status: 7 as never }).finish()).status), 'unknown');
  });
});
