import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { MayuError } from '@mayu/protocol';
import { terminate } from '../../util/process.js';

export interface VirtiofsdOptions {
  binary: string;
  socket: string;
  sharedDir: string;
  extraArgs: readonly string[];
  logFile: string;
}

/** The daemon's command-line flavour: the Rust virtiofsd, or QEMU's legacy C one (-o source=). */
export function virtiofsdArgs(o: VirtiofsdOptions, style: 'rust' | 'legacy'): string[] {
  return style === 'rust'
    ? ['--socket-path', o.socket, '--shared-dir', o.sharedDir, '--cache', 'auto', ...o.extraArgs]
    : [`--socket-path=${o.socket}`, '-o', `source=${o.sharedDir}`, '-o', 'cache=auto', ...o.extraArgs];
}

function detectStyle(binary: string): 'rust' | 'legacy' {
  let help = '';
  try {
    help = execFileSync(binary, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    help = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
  }
  return help.includes('--shared-dir') ? 'rust' : 'legacy';
}

/** An external virtio-fs daemon serving the sandbox's shared directory to QEMU. */
export class Virtiofsd {
  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  static async start(o: VirtiofsdOptions): Promise<Virtiofsd> {
    if (!o.binary || !existsSync(o.binary)) {
      throw new MayuError('ERR_CONFIG_INVALID', `hypervisor.qemu.virtio_fs_daemon: ${JSON.stringify(o.binary)} is not an executable (shared_fs = "virtio-fs" needs virtiofsd)`);
    }
    const log = openSync(o.logFile, 'a', 0o640);
    let child: ChildProcess;
    try {
      child = spawn(o.binary, virtiofsdArgs(o, detectStyle(o.binary)), { detached: true, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    child.unref();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let waited = 0; !existsSync(o.socket); waited += 10) {
      if (child.exitCode !== null || waited > 5000) {
        await terminate(child.pid ?? -1, 500, exited);
        throw new MayuError('ERR_HYPERVISOR_START', `virtiofsd did not start (see ${o.logFile})`);
      }
      await sleep(10);
    }
    return new Virtiofsd(child, exited);
  }

  async stop(): Promise<void> {
    if (this.child.pid !== undefined && this.child.exitCode === null) await terminate(this.child.pid, 1000, this.exited);
  }
}
