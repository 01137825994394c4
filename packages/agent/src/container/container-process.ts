import type { ExitStatus } from '@mayu/protocol';
import { MayuError } from '@mayu/protocol';
import type { ProcessIo } from './process-io.js';

/** After the exit, how long to wait for descendants that still hold the output open. */
const OUTPUT_GRACE_MS = 1000;

/** A process the OCI runtime started in a container: its PID, stdio and exit. */
export class ContainerProcess {
  exit: ExitStatus | null = null;
  private readonly exited: Promise<ExitStatus>;

  constructor(
    readonly execId: string,
    readonly pid: number,
    readonly io: ProcessIo,
    exit: Promise<ExitStatus>,
  ) {
    this.exited = exit.then((e) => {
      this.exit = e;
      return e;
    });
  }

  /** Resolves with the exit status once the process has exited and its output has ended. */
  async wait(): Promise<ExitStatus> {
    const exit = await this.exited;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, OUTPUT_GRACE_MS);
    });
    await Promise.race([Promise.all([this.io.stdout.whenEnded(), this.io.stderr.whenEnded()]), grace]).finally(() => clearTimeout(timer));
    return exit;
  }

  signal(sig: number): void {
    if (this.exit) return;
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new MayuError('ERR_INVALID_ARGUMENT', `signal: ${sig} is not a signal`);
      throw err;
    }
  }
}
