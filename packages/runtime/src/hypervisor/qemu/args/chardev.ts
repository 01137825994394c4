import { optionValue } from './option-value.js';

/** A Unix socket QEMU listens on (one client at a time); it does not wait for one. */
export function socketChardevArgs(opts: { id: string; path: string }): string[] {
  return ['-chardev', `socket,id=${opts.id},path=${optionValue('chardev path', opts.path)},server=on,wait=off`];
}

/** The QMP monitor on a Unix socket. */
export function qmpArgs(path: string): string[] {
  return ['-qmp', `unix:${optionValue('qmp path', path)},server=on,wait=off`];
}

/** The first ISA serial port (the guest's ttyS0, its kernel console) on a chardev. */
export function serialConsoleArgs(chardevId: string): string[] {
  return ['-serial', `chardev:${chardevId}`];
}
