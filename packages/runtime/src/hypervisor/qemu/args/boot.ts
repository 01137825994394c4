import { invalidArgument } from '@mayu/protocol';

/** Direct kernel boot: an uncompressed vmlinux with a PVH note, an optional initrd. */
export function kernelArgs(opts: { kernel: string; initrd?: string; cmdline: string }): string[] {
  if (/[\n\r]/.test(opts.cmdline)) throw invalidArgument('cmdline', opts.cmdline, 'must be one line');
  return ['-kernel', opts.kernel, ...(opts.initrd ? ['-initrd', opts.initrd] : []), '-append', opts.cmdline];
}
