import type { Accel, MachineType } from './qemu/args/machine.js';

export interface KernelCmdlineOptions {
  machine: MachineType;
  accel: Accel;
  /** Host TSC rate in kHz, passed to a TCG guest; null when unknown. */
  tscKhz: number | null;
  rootfs: { kind: 'image'; fsType: string } | { kind: 'initrd' };
  debug: boolean;
  /** vCPUs to bring up at boot when more exist (the rest are onlined as the VM grows). */
  bootCpus?: number;
  /** Extra words, appended last (they win). */
  extra: string;
}

/**
 * The guest kernel command line: console on ttyS0, any panic ends the VM
 * (panic=-1 reboots, and QEMU runs with -no-reboot), the root filesystem,
 * and timer settings a TCG microvm needs to boot reliably.
 */
export function kernelCmdline(o: KernelCmdlineOptions): string {
  const words = ['console=ttyS0', 'panic=-1', 'reboot=t'];
  words.push(o.debug ? 'loglevel=7' : 'quiet');
  if (o.rootfs.kind === 'image') words.push('root=/dev/vda', 'ro', `rootfstype=${o.rootfs.fsType}`);
  if (o.machine === 'microvm') words.push('pci=off');
  if (o.bootCpus) words.push(`maxcpus=${o.bootCpus}`);
  // microvm has no HPET or PM timer to calibrate the TSC against; under TCG
  // the calibration can spin forever. Tell the kernel the rate instead.
  if (o.accel === 'tcg' && o.tscKhz) words.push(`tsc_early_khz=${o.tscKhz}`, 'tsc=reliable');
  if (o.debug) words.push('agent.log=debug');
  if (o.extra.trim()) words.push(...o.extra.trim().split(/\s+/));
  return words.join(' ');
}
