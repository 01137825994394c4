import * as wire from '../gen/mayu/agent/v1/agent.js';

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

export function guestDetailsFromWire(w: wire.GuestDetails): GuestDetails {
  const boot = w.boot ?? { initStartMs: 0, agentProcessStartMs: 0, agentMainMs: 0, agentListeningMs: 0 };
  return {
    kernelRelease: w.kernelRelease,
    kernelVersion: w.kernelVersion,
    agentVersion: w.agentVersion,
    nodeVersion: w.nodeVersion,
    hostname: w.hostname,
    memory: {
      totalBytes: w.memoryTotalBytes,
      availableBytes: w.memoryAvailableBytes,
      blockSizeBytes: w.memoryBlockSizeBytes,
    },
    onlineCpus: w.onlineCpus,
    uptimeMs: w.uptimeMs,
    boot: {
      initStartMs: boot.initStartMs,
      agentProcessStartMs: boot.agentProcessStartMs,
      agentMainMs: boot.agentMainMs,
      agentListeningMs: boot.agentListeningMs,
    },
    channels: [...w.channels],
    ociRuntime: w.ociRuntime,
  };
}
