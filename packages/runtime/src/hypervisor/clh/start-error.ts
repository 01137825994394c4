import { readFileSync } from 'node:fs';
import { isMayuError, MayuError } from '@mayu/protocol';
import type { VmExit } from '../hypervisor.js';

/** The last lines of a log file, or '' when there is none. */
export function logTail(path: string, lines = 5): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * The error of a failed start: ERR_HYPERVISOR_START with what went wrong
 * (the API's answer, or CH's exit) and the tail of CH's log and stderr.
 * Errors that already say what to fix (ERR_CONFIG_INVALID,
 * ERR_HOST_CAPABILITY...) keep their code.
 */
export function startError(err: unknown, o: { binary: string; exit: VmExit | null; logs: string[] }): MayuError {
  if (isMayuError(err) && err.code !== 'ERR_HYPERVISOR' && err.code !== 'ERR_HYPERVISOR_START') return err;
  const tail = o.logs.map(logTail).filter(Boolean).join('\n');
  const reason = err instanceof Error ? err.message : String(err);
  const exited = o.exit ? `Cloud Hypervisor exited during start-up (code ${String(o.exit.code)}${o.exit.signal ? `, signal ${o.exit.signal}` : ''})` : '';
  const message = [exited || `Cloud Hypervisor failed to start: ${reason}`, exited ? reason : '', tail].filter(Boolean).join('\n');
  return new MayuError('ERR_HYPERVISOR_START', message, {
    cause: err,
    details: { ...(isMayuError(err) ? err.details : {}), binary: o.binary, exit: o.exit, log: tail },
  });
}
