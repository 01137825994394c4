import { invalidArgument } from '@mayu/protocol';

/**
 * -m. With `shared`, guest RAM is a memfd the host can map (virtio-fs and
 * vhost-user devices need it).
 */
export function memoryArgs(opts: { mib: number; shared?: boolean }): string[] {
  if (!Number.isInteger(opts.mib) || opts.mib < 64) throw invalidArgument('memoryMib', opts.mib, 'must be an integer of at least 64');
  const args = ['-m', `${opts.mib}M`];
  if (opts.shared) {
    args.push('-object', `memory-backend-memfd,id=mem,size=${opts.mib}M,share=on`, '-machine', 'memory-backend=mem');
  }
  return args;
}
