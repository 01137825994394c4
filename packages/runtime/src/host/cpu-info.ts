import { readFileSync } from 'node:fs';

export interface CpuInfo {
  flags: Set<string>;
  /** "cpu MHz" of the first CPU, in kHz (the TSC rate on a constant-TSC CPU). */
  mhzKhz: number | null;
}

export function parseCpuInfo(text: string): CpuInfo {
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/).filter(Boolean));
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1]);
  return { flags, mhzKhz: Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : null };
}

export function readCpuInfo(): CpuInfo {
  try {
    return parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return { flags: new Set(), mhzKhz: null };
  }
}

/**
 * The host TSC frequency in kHz, for the guest's tsc_early_khz= under TCG
 * (QEMU's TCG passes the host TSC through to the guest). Without it a
 * microvm guest, which has no PIT/HPET to calibrate against, can hang at boot.
 */
export function hostTscKhz(info: CpuInfo = readCpuInfo()): number | null {
  if (!info.flags.has('constant_tsc')) return null;
  return info.mhzKhz;
}
