import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { MayuError } from '@mayu/protocol';
import { socketFromFd } from '@mayu/vsock';
import { sys } from '../system/sys.js';
import { OutputBuffer } from './output-buffer.js';

/** A container process's stdio as the agent holds it. */
export interface ProcessIo {
  readonly terminal: boolean;
  stdin: Writable | null;
  stdout: OutputBuffer;
  stderr: OutputBuffer;
  resize(rows: number, columns: number): void;
  close(): void;
}

/**
 * A pipe for a process's stdin that the agent owns: Node destroys a child's
 * own `stdin` pipe when the child (the OCI runtime, which returns at once)
 * exits, but the container process keeps reading long after.
 */
export class StdinPipe {
  readonly readFd: number;
  readonly writer: Writable;

  constructor() {
    const [readFd, writeFd] = sys().pipe();
    this.readFd = readFd;
    this.writer = new Socket({ fd: writeFd, readable: false, writable: true });
    this.writer.on('error', () => {});
  }

  /** Our copy of the read end, once the OCI runtime has inherited it. */
  releaseReadEnd(): void {
    sys().closeFd(this.readFd);
  }
}

/** Pipes: the OCI runtime hands its stdio to the process, so the process holds the other ends. */
export function pipeIo(child: ChildProcess, stdin: Writable | null): ProcessIo {
  return {
    terminal: false,
    stdin,
    stdout: new OutputBuffer(child.stdout),
    stderr: new OutputBuffer(child.stderr),
    resize: () => {
      throw new MayuError('ERR_INVALID_STATE', 'the process has no terminal to resize');
    },
    close: () => {
      stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}

/**
 * A terminal: the OCI runtime creates the pty inside the container and sends
 * its master over the console socket (`--console-socket`). Output of a
 * terminal is one stream (stdout); stderr ends at once.
 */
export class ConsoleSocket {
  private readonly fd: number;
  readonly master: Promise<number>;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    rmSync(path, { force: true });
    this.fd = sys().unixListen(path);
    this.master = new Promise((resolve, reject) => sys().receiveFd(this.fd, (err, fd) => (err || fd === undefined ? reject(err ?? new Error('no descriptor')) : resolve(fd))));
    this.master.catch(() => {});
  }

  /** Waits for the master (the runtime sends it before it returns). */
  async io(timeoutMs: number): Promise<ProcessIo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MayuError('ERR_INTERNAL', 'the OCI runtime sent no terminal')), timeoutMs);
    });
    const fd = await Promise.race([this.master, timeout]).finally(() => clearTimeout(timer));
    return terminalIo(fd);
  }

  close(): void {
    try {
      sys().closeFd(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.path, { force: true });
  }
}

function terminalIo(masterFd: number): ProcessIo {
  const master: Socket = socketFromFd(masterFd);
  master.on('error', () => {});
  return {
    terminal: true,
    stdin: master,
    stdout: new OutputBuffer(master),
    stderr: new OutputBuffer(null),
    // A terminal whose process has gone has nothing left to resize.
    resize: (rows, columns) => {
      if (!master.destroyed) sys().setWinsize(masterFd, rows, columns);
    },
    close: () => master.destroy(),
  };
}
