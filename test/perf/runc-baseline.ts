import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An OCI bundle run with runc on the host: the baseline every mayu benchmark
 * is compared with, in the same run. Its rootfs is the one given (the same as
 * mayu's), or a fresh busybox-static one.
 */
export class RuncBundle {
  readonly dir: string;
  private readonly state: string;

  constructor(args: string[], rootfs?: string) {
    this.dir = mkdtempSync('/run/mayu-bench-runc-');
    this.state = join(this.dir, 'state');
    let root = rootfs;
    if (!root) {
      root = join(this.dir, 'rootfs');
      mkdirSync(join(root, 'bin'), { recursive: true });
      copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
      for (const tool of ['sh', 'true', 'cat', 'uname', 'sleep', 'dd', 'tail']) symlinkSync('busybox', join(root, 'bin', tool));
    }
    execFileSync('runc', ['spec', '--bundle', this.dir]);
    const spec = JSON.parse(readFileSync(join(this.dir, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean }; root: { path: string; readonly: boolean } };
    spec.process.args = args;
    spec.process.terminal = false;
    spec.root = { path: root, readonly: true };
    writeFileSync(join(this.dir, 'config.json'), JSON.stringify(spec));
  }

  private runc(args: string[], opts: { stdio?: 'ignore' | 'pipe' } = {}): string {
    return execFileSync('runc', ['--root', this.state, ...args], { stdio: opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : 'ignore', encoding: 'utf8' }) ?? '';
  }

  /** Milliseconds for one `runc run` of the bundle, from spawn to exit. */
  run(id: string): number {
    const t0 = performance.now();
    this.runc(['run', '--bundle', this.dir, id]);
    return performance.now() - t0;
  }

  /** One `runc run`, returning what the container printed. */
  runOutput(id: string): string {
    return this.runc(['run', '--bundle', this.dir, id], { stdio: 'pipe' });
  }

  /** Starts the bundle in the background (create + start). */
  start(id: string): void {
    this.runc(['create', '--bundle', this.dir, id]);
    this.runc(['start', id]);
  }

  /** Milliseconds for one `runc exec` into a started container. */
  exec(id: string, args: string[]): number {
    const t0 = performance.now();
    this.runc(['exec', id, ...args]);
    return performance.now() - t0;
  }

  /** Milliseconds for one `runc update` of a started container's resources. */
  update(id: string, args: string[]): number {
    const t0 = performance.now();
    this.runc(['update', ...args, id]);
    return performance.now() - t0;
  }

  kill(id: string): void {
    try {
      this.runc(['delete', '--force', id]);
    } catch {
      // not running
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
