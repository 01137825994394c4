import { invalidArgument } from '@mayu/protocol';

/**
 * -m, and where guest RAM lives: a memfd the host can map (`shared`:
 * virtio-fs and vhost-user devices need it), or a file (VM templates: a
 * template's RAM is the file, mapped shared; a clone maps the same file
 * private, copy-on-write).
 */
export function memoryArgs(opts: { mib: number; shared?: boolean; file?: { path: string; shared: boolean } }): string[] {
  if (!Number.isInteger(opts.mib) || opts.mib < 64) throw invalidArgument('memoryMib', opts.mib, 'must be an integer of at least 64');
  const args = ['-m', `${opts.mib}M`];
  if (opts.file && opts.shared) throw invalidArgument('memoryFile', opts.file.path, 'cannot be used with a shared memfd (virtio-fs): a template VM shares files over 9p');
  if (opts.file) {
    if (opts.file.path.includes(',')) throw invalidArgument('memoryFile', opts.file.path, 'must not contain a comma');
    args.push('-object', `memory-backend-file,id=mem,size=${opts.mib}M,mem-path=${opts.file.path},share=${opts.file.shared ? 'on' : 'off'}`, '-machine', 'memory-backend=mem');
  } else if (opts.shared) {
    args.push('-object', `memory-backend-memfd,id=mem,size=${opts.mib}M,share=on`, '-machine', 'memory-backend=mem');
  }
  return args;
}
