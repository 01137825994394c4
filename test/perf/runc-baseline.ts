import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An OCI bundle with a busybox-static rootfs, run with runc on the host: the
 * baseline every mayu benchmark is compared with, in the same run.
 */
export class RuncBundle {
  readonly dir: string;

  constructor(args: string[]) {
    this.dir = mkdtempSync('/run/mayu-bench-runc-');
    const rootfs = join(this.dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
    for (const tool of ['sh', 'true', 'cat', 'uname', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', tool));
    execFileSync('runc', ['spec', '--bundle', this.dir]);
    const spec = JSON.parse(readFileSync(join(this.dir, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean } };
    spec.process.args = args;
    spec.process.terminal = false;
    writeFileSync(join(this.dir, 'config.json'), JSON.stringify(spec));
  }

  /** Milliseconds for one `runc run` of the bundle, from spawn to exit. */
  run(id: string): number {
    const t0 = performance.now();
    execFileSync('runc', ['--root', join(this.dir, 'state'), 'run', '--bundle', this.dir, id], { stdio: 'ignore' });
    return performance.now() - t0;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
