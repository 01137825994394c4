import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalidArgument, MayuError } from '@mayu/protocol';
import type { Logger } from 'pino';
import { CGROUP_ROOT } from '../stats/cgroup-stats.js';
import { capContainersMemory, guestMemTotal } from './cgroups.js';

/** Where the guest's CPUs and memory are read and set (tests give a directory of their own). */
export interface ResourcePaths {
  cpus: string;
  meminfo: string;
  cgroupRoot: string;
}

const GUEST_PATHS: ResourcePaths = { cpus: '/sys/devices/system/cpu', meminfo: '/proc/meminfo', cgroupRoot: CGROUP_ROOT };

/** Longest the host may have the agent wait for plugged memory. */
const MAX_TIMEOUT_MS = 120_000;

export interface ResizeResult {
  onlineCpus: number;
  memoryTotalBytes: number;
  containersMemoryMaxBytes: number;
}

/**
 * The guest's side of a VM that grows: every vCPU up to the VM's maximum
 * exists from boot and the kernel brought up some (maxcpus=); memory comes
 * as virtio-mem blocks the kernel onlines as they are plugged. resize()
 * onlines vCPUs up to the number the host asks for, waits until the memory
 * the host plugged is online, and raises the containers' cap with it.
 * Nothing here ever takes resources away: a VM only grows.
 */
export class GuestResources {
  /** MemTotal at boot: what the host's added_memory_bytes is counted from (a clone's is its template's, the same size). */
  private readonly bootMemTotal: number;

  constructor(
    private readonly log: Logger,
    private readonly paths: ResourcePaths = GUEST_PATHS,
  ) {
    this.bootMemTotal = guestMemTotal(paths.meminfo);
  }

  async resize(o: { vcpus: number; addedMemoryBytes: number; timeoutMs: number }): Promise<ResizeResult> {
    const present = this.cpuIds();
    if (!Number.isInteger(o.vcpus) || o.vcpus < 1 || o.vcpus > present.length) throw invalidArgument('vcpus', o.vcpus, `must be 1 to the ${present.length} vCPUs this VM has`);
    if (!Number.isSafeInteger(o.addedMemoryBytes) || o.addedMemoryBytes < 0) throw invalidArgument('added_memory_bytes', o.addedMemoryBytes, 'must be a non-negative integer');
    if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1 || o.timeoutMs > MAX_TIMEOUT_MS) throw invalidArgument('timeout_ms', o.timeoutMs, `must be 1 to ${MAX_TIMEOUT_MS}`);
    for (const id of present.slice(0, o.vcpus)) this.online(id);
    const memTotal = await this.memoryOnline(this.bootMemTotal + o.addedMemoryBytes, o.timeoutMs);
    const cap = capContainersMemory(memTotal, this.paths.cgroupRoot);
    const result = { onlineCpus: this.onlineCount(present), memoryTotalBytes: memTotal, containersMemoryMaxBytes: cap };
    this.log.info({ event: 'guest.resized', ...result }, 'guest resized');
    return result;
  }

  /** The vCPUs the VM has, by id in order. */
  private cpuIds(): number[] {
    return readdirSync(this.paths.cpus)
      .map((name) => /^cpu(\d+)$/.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Brings a vCPU online (cpu0 has no switch: it is always online). */
  private online(id: number): void {
    const file = `${this.paths.cpus}/cpu${id}/online`;
    if (!existsSync(file) || readFileSync(file, 'utf8').trim() === '1') return;
    writeFileSync(file, '1');
  }

  private onlineCount(ids: number[]): number {
    return ids.filter((id) => {
      const file = `${this.paths.cpus}/cpu${id}/online`;
      return !existsSync(file) || readFileSync(file, 'utf8').trim() === '1';
    }).length;
  }

  /** Waits until MemTotal reaches `bytes`: the kernel onlines each block virtio-mem plugs. */
  private async memoryOnline(bytes: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const total = guestMemTotal(this.paths.meminfo);
      if (total >= bytes) return total;
      if (performance.now() > deadline) {
        throw new MayuError('ERR_TIMEOUT', `the guest has ${total} bytes of memory online, not the ${bytes} the host gave it, after ${timeoutMs} ms`, {
          details: { memTotal: total, expected: bytes },
        });
      }
      await sleep(delay);
    }
  }
}
