import { optionValue } from './option-value.js';

/**
 * Options every mayu VM gets: no default devices or config files, no
 * display, a guest reboot ends QEMU, and vCPUs stay stopped (-S) until the
 * runtime has attached to the console and log sockets and sends `cont`.
 */
export function baseArgs(opts: { name: string; pidFile: string }): string[] {
  return ['-name', optionValue('name', opts.name), '-nodefaults', '-no-user-config', '-nographic', '-no-reboot', '-S', '-pidfile', opts.pidFile];
}
