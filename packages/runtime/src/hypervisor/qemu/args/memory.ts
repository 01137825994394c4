import { invalidArgument } from '@mayu/protocol';

/** The virtio-mem device a VM grows through (QOM path /machine/peripheral/<id>). */
export const HOTPLUG_MEMORY_DEVICE = 'hotmem0';

/**
 * -m, and where guest RAM lives: a memfd the host can map (`shared`:
 * virtio-fs and vhost-user devices need it), or a file (VM templates: a
 * template's RAM is the file, mapped shared; a clone maps the same file
 * private, copy-on-write).
 *
 * `maxMib` above `mib`: room to grow — a virtio-mem device over a backend of
 * the difference, none of it plugged at boot (requested-size=0), reserved
 * address space only (reserve=off: no swap or commit charge until the guest
 * is given it). The host raises requested-size; the guest plugs and onlines
 * that much. It needs a machine with a device-memory region: q35.
 */
export function memoryArgs(opts: { mib: number; maxMib?: number; shared?: boolean; file?: { path: string; shared: boolean } }): string[] {
  if (!Number.isInteger(opts.mib) || opts.mib < 64) throw invalidArgument('memoryMib', opts.mib, 'must be an integer of at least 64');
  const maxMib = opts.maxMib ?? opts.mib;
  if (!Number.isInteger(maxMib) || maxMib < opts.mib) throw invalidArgument('maxMemoryMib', opts.maxMib, `must be an integer of at least memoryMib (${opts.mib})`);
  const args = ['-m', maxMib > opts.mib ? `${opts.mib}M,maxmem=${maxMib}M` : `${opts.mib}M`];
  if (opts.file && opts.shared) throw invalidArgument('memoryFile', opts.file.path, 'cannot be used with a shared memfd (virtio-fs): a template VM shares files over 9p');
  if (opts.file) {
    if (opts.file.path.includes(',')) throw invalidArgument('memoryFile', opts.file.path, 'must not contain a comma');
    args.push('-object', `memory-backend-file,id=mem,size=${opts.mib}M,mem-path=${opts.file.path},share=${opts.file.shared ? 'on' : 'off'}`, '-machine', 'memory-backend=mem');
  } else if (opts.shared) {
    args.push('-object', `memory-backend-memfd,id=mem,size=${opts.mib}M,share=on`, '-machine', 'memory-backend=mem');
  }
  if (maxMib > opts.mib) {
    const backend = opts.shared ? 'memory-backend-memfd' : 'memory-backend-ram';
    args.push(
      '-object',
      `${backend},id=hotmem,size=${maxMib - opts.mib}M,reserve=off${opts.shared ? ',share=on' : ''}`,
      '-device',
      `virtio-mem-pci,id=${HOTPLUG_MEMORY_DEVICE},memdev=hotmem,requested-size=0`,
    );
  }
  return args;
}
