import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';

/** How much of the end of the console log is searched for a panic. */
const TAIL_BYTES = 64 * 1024;
const MAX_REASON = 200;
// eslint-disable-next-line no-control-regex -- terminal escape sequences are what it matches
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Text without terminal escapes and control characters, trimmed. */
const printable = (text: string): string =>
  text
    .replace(ANSI_ESCAPE, '')
    .replace(/[^\x20-\x7e]/g, '')
    .trim();

/**
 * Why the guest ended, from the end of its console log: the kernel's panic
 * ("Kernel panic - not syncing: ..."), or mayu-init's word that the agent
 * died ("mayu-init: agent killed by signal 9; powering off"), whichever came
 * last. The log is the guest's writing: read bounded, never through a
 * symlink, cleaned to one short line of printable text — a reason for the
 * operator, never trusted for anything else.
 */
export function guestExitReason(consoleLog: string): string | null {
  let fd: number;
  try {
    fd = openSync(consoleLog, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const len = Math.min(st.size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, st.size - len);
    const lines = buf.subarray(0, n).toString('latin1').split(/\r*\n/);
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i] ?? '';
      const panic = /Kernel panic - not syncing: (.*)$/.exec(line);
      if (panic) return `guest kernel panic: ${printable(panic[1] ?? '').slice(0, MAX_REASON)}`;
      const agent = /mayu-init: (agent (?:exited with status|killed by signal) \d+); powering off/.exec(line);
      if (agent) return `the guest agent died (${agent[1] ?? ''}) and the guest powered off`;
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
