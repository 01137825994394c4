import { readFileSync } from 'node:fs';
import { hostname, release, version } from 'node:os';
import type { BootTimestamps, GuestDetails } from '@mayu/protocol';
import { uptimeMs } from '../boot/uptime.js';
import { AGENT_VERSION } from '../version.js';

/** Facts about the image the agent runs in, written by the image build. */
export const IMAGE_INFO_PATH = '/etc/mayu/image.json';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** MemTotal and MemAvailable from /proc/meminfo, in bytes. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kib('MemTotal'), availableBytes: kib('MemAvailable') };
}

/** Counts CPUs in a sysfs CPU list such as "0-3,6". */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

export function ociRuntimeOfImage(): string {
  try {
    const info = JSON.parse(readOr(IMAGE_INFO_PATH, '{}')) as { ociRuntime?: unknown };
    return typeof info.ociRuntime === 'string' ? info.ociRuntime : '';
  } catch {
    return '';
  }
}

export function collectGuestDetails(boot: BootTimestamps, channels: readonly string[]): GuestDetails {
  const blockSize = parseInt(readOr('/sys/devices/system/memory/block_size_bytes', '0').trim(), 16);
  return {
    kernelRelease: release(),
    kernelVersion: version(),
    agentVersion: AGENT_VERSION,
    nodeVersion: process.version,
    hostname: hostname(),
    memory: { ...parseMeminfo(readOr('/proc/meminfo', '')), blockSizeBytes: Number.isFinite(blockSize) ? blockSize : 0 },
    onlineCpus: countCpuList(readOr('/sys/devices/system/cpu/online', '0')),
    uptimeMs: uptimeMs(),
    boot: { ...boot },
    channels: [...channels],
    ociRuntime: ociRuntimeOfImage(),
  };
}
