import { execFileSync } from 'node:child_process';
import type { QemuConfig } from '../../config/runtime-config.js';
import { decideAccel, type AccelDecision } from '../../host/accel.js';
import type { CheckStatus, HostCheck } from '../../host/check-types.js';

/** QEMU's version, e.g. "7.2.22", or null when it cannot be run. */
export function qemuVersion(path: string): string | null {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return /version (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** `mayu check`'s line for QEMU: it runs, and is 7.0 or later (microvm PVH boot). Only a warning when another backend is configured. */
export function qemuCheck(q: QemuConfig, otherBackend: boolean): HostCheck {
  const version = qemuVersion(q.path);
  const major = version ? Number(version.split('.')[0]) : 0;
  const missing: CheckStatus = otherBackend ? 'warn' : 'fail';
  if (!version) return { name: 'qemu', status: missing, detail: `${q.path} cannot be run`, fix: 'apt-get install qemu-system-x86 (or set hypervisor.qemu.path)' };
  if (major < 7) return { name: 'qemu', status: missing, detail: `QEMU ${version} is too old (microvm PVH boot needs 7.0 or later)`, fix: 'install QEMU 7.2 or later' };
  return { name: 'qemu', status: 'ok', detail: `QEMU ${version} (${q.path})` };
}

/** How QEMU would run its vCPUs on this host. */
export function qemuAccel(q: QemuConfig): AccelDecision {
  return decideAccel(q.accel);
}

/** Rules between QEMU's keys and the sandbox's that a schema cannot say (load-config.ts asks). */
export function qemuConfigProblems(raw: { sandbox: { hypervisor: string; shared_fs: string }; hypervisor: { qemu: { run_as: string } } }): string[] {
  const s = raw.sandbox;
  const nineP = s.shared_fs === 'virtio-9p' || (s.shared_fs === 'auto' && s.hypervisor === 'qemu');
  if (/^\d+:\d+$/.test(raw.hypervisor.qemu.run_as) && s.hypervisor === 'qemu' && nineP) {
    return [`hypervisor.qemu.run_as: QEMU serves the 9p share itself and must stay root with shared_fs = "virtio-9p" (got ${JSON.stringify(raw.hypervisor.qemu.run_as)})`];
  }
  return [];
}
