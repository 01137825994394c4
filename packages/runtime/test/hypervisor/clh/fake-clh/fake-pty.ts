import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A pty for the fake's consoles in "Pty" mode. Node cannot open a pty pair
 * itself (it needs ioctls), so util-linux's `script` holds the master: what
 * the fake writes to script's stdin comes out of the slave, whose path
 * (`tty`, run on the slave) is what CH would write into config.*.file. The
 * slave is kept open by a sleeping shell; killing script hangs it up.
 * setpriv gives script a parent-death signal, so a killed fake leaves none.
 */
export class FakePty {
  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  static open(): Promise<FakePty> {
    const child = spawn('setpriv', ['--pdeathsig=KILL', '--', 'script', '-q', '-c', 'tty; exec sleep 2147483647', '/dev/null'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.on('error', () => {});
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('no pty from script within 5 s'));
      }, 5000);
      const onData = (chunk: Buffer): void => {
        out += chunk.toString('latin1');
        const m = /(\/dev\/pts\/\d+)\r?\n/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        // Keep draining: the slave's echo comes back out of the master.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(new FakePty(m[1], child, exited));
      };
      child.stdout?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Output of the device (what the guest writes to the console). */
  write(data: string): void {
    this.child.stdin?.write(data);
  }

  async close(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** For a process that is about to exit: no waiting. */
  kill(): void {
    this.child.kill('SIGKILL');
  }
}
