import type * as wire from '../gen/mayu/agent/v1/agent.js';
import { GUEST_REPLY_LIMITS, GuestReply, type WireIssueSink } from './guest-reply.js';

/** Guest uptime (ms since the kernel started) at each boot milestone. */
export interface BootTimestamps {
  initStartMs: number;
  agentProcessStartMs: number;
  agentMainMs: number;
  agentListeningMs: number;
}

/** What the guest reports about itself (GetGuestDetails). */
export interface GuestDetails {
  kernelRelease: string;
  kernelVersion: string;
  agentVersion: string;
  nodeVersion: string;
  hostname: string;
  memory: { totalBytes: number; availableBytes: number; blockSizeBytes: number };
  onlineCpus: number;
  uptimeMs: number;
  boot: BootTimestamps;
  channels: string[];
  ociRuntime: string;
}

export function guestDetailsToWire(d: GuestDetails): wire.GuestDetails {
  return {
    kernelRelease: d.kernelRelease,
    kernelVersion: d.kernelVersion,
    agentVersion: d.agentVersion,
    nodeVersion: d.nodeVersion,
    hostname: d.hostname,
    memoryTotalBytes: d.memory.totalBytes,
    memoryAvailableBytes: d.memory.availableBytes,
    memoryBlockSizeBytes: d.memory.blockSizeBytes,
    onlineCpus: d.onlineCpus,
    uptimeMs: d.uptimeMs,
    boot: { ...d.boot },
    channels: [...d.channels],
    ociRuntime: d.ociRuntime,
  };
}

/**
 * GetGuestDetails's reply, on the host: strings are cut to
 * GUEST_REPLY_LIMITS.maxString, channels to maxChannels entries; sizes,
 * counts and times are finite and >= 0 (see guest-reply.ts). Missing boot
 * timestamps read as zeros.
 */
export function guestDetailsFromWire(w: wire.GuestDetails, report?: WireIssueSink): GuestDetails {
  const m = GuestReply.message('GetGuestDetails', w);
  const r = new GuestReply('GetGuestDetails', report);
  const boot = r.part('boot', m.boot);
  const bootTime = (v: unknown, field: string): number => (v === undefined ? 0 : r.time(`boot.${field}`, v));
  return {
    kernelRelease: r.string('kernel_release', m.kernelRelease),
    kernelVersion: r.string('kernel_version', m.kernelVersion),
    agentVersion: r.string('agent_version', m.agentVersion),
    nodeVersion: r.string('node_version', m.nodeVersion),
    hostname: r.string('hostname', m.hostname),
    memory: {
      totalBytes: r.count('memory_total_bytes', m.memoryTotalBytes),
      availableBytes: r.count('memory_available_bytes', m.memoryAvailableBytes),
      blockSizeBytes: r.count('memory_block_size_bytes', m.memoryBlockSizeBytes),
    },
    onlineCpus: r.count('online_cpus', m.onlineCpus),
    uptimeMs: r.time('uptime_ms', m.uptimeMs),
    boot: {
      initStartMs: bootTime(boot.initStartMs, 'init_start_ms'),
      agentProcessStartMs: bootTime(boot.agentProcessStartMs, 'agent_process_start_ms'),
      agentMainMs: bootTime(boot.agentMainMs, 'agent_main_ms'),
      agentListeningMs: bootTime(boot.agentListeningMs, 'agent_listening_ms'),
    },
    channels: r.list('channels', m.channels, GUEST_REPLY_LIMITS.maxChannels, (c, field) => r.string(field, c)),
    ociRuntime: r.string('oci_runtime', m.ociRuntime),
  };
}
