import type { ChildProcess } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';

/** The fd on which a holder tells the command that started it that the container (or exec) is ready, or why not. */
const REPORT_FD = 3;

export interface Report {
  ok?: boolean;
  error?: string;
}

let reported = false;

/**
 * Says it once, as one line, and closes the fd: the command that waits for
 * it stops at the line, so a process that inherited the fd (QEMU, a hook)
 * cannot hold it up. A starter that is gone (killed) is not an error.
 */
export function sendReport(message: Report): void {
  if (reported) return;
  reported = true;
  try {
    writeSync(REPORT_FD, `${JSON.stringify(message)}\n`);
  } catch {
    // the starter is gone
  }
  try {
    closeSync(REPORT_FD);
  } catch {
    // already closed
  }
}

/** The holder's first line on fd 3; `silent` when it ended without one. */
export function awaitReport(child: ChildProcess, silent: string): Promise<Report> {
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  return new Promise((done) => {
    let text = '';
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      (pipe as NodeJS.ReadableStream & { destroy(): void }).destroy();
      const line = text.includes('\n') ? text.slice(0, text.indexOf('\n')) : text;
      try {
        done(JSON.parse(line) as Report);
      } catch {
        done({ error: silent });
      }
    };
    pipe.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n') || text.length > 65536) finish();
    });
    pipe.on('end', finish);
    pipe.on('error', finish);
  });
}
