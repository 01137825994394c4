export type MachineType = 'microvm' | 'q35';
export type Accel = 'kvm' | 'tcg';

/**
 * -M and -accel. microvm: no option ROMs, PIT or PIC (PVH boot needs none),
 * an RTC for the guest's wall clock, one ISA serial port for the kernel
 * console, ACPI for virtio-mmio discovery and the power button.
 */
export function machineArgs(opts: { type: MachineType; accel: Accel; tbSizeMib?: number }): string[] {
  const machine = opts.type === 'microvm' ? 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,acpi=on' : 'q35,acpi=on';
  const accel = opts.accel === 'tcg' && opts.tbSizeMib ? `tcg,tb-size=${opts.tbSizeMib}` : opts.accel;
  return ['-M', machine, '-accel', accel];
}

/**
 * q35's VM generation ID (ACPI): a new id for every QEMU process, written
 * into the guest and notified when a clone restores a template's state, so
 * the guest kernel reseeds its CRNG (CONFIG_VMGENID). microvm's ACPI tables
 * have no VMGENID device: there mayu's own reseed is the only one.
 */
export function vmGenIdArgs(type: MachineType): string[] {
  return type === 'q35' ? ['-device', 'vmgenid,guid=auto'] : [];
}
