import { join } from 'node:path';

/** The files a QEMU VM keeps in its sandbox's state directory. */
export interface QemuPaths {
  qmp: string;
  /** Kernel console (ttyS0) socket; its output is captured to consoleLog. */
  console: string;
  consoleLog: string;
  /** The agent's virtio-serial port. */
  agent: string;
  /** The agent's log console (hvc0). */
  log: string;
  pid: string;
  /** QEMU's own stderr. */
  stderr: string;
  /** virtiofsd's socket (shared_fs = "virtio-fs"). */
  virtiofsd: string;
}

export function qemuPaths(stateDir: string): QemuPaths {
  return {
    qmp: join(stateDir, 'qmp.sock'),
    console: join(stateDir, 'console.sock'),
    consoleLog: join(stateDir, 'console.log'),
    agent: join(stateDir, 'agent.sock'),
    log: join(stateDir, 'log.sock'),
    pid: join(stateDir, 'qemu.pid'),
    stderr: join(stateDir, 'qemu.log'),
    virtiofsd: join(stateDir, 'virtiofsd.sock'),
  };
}

/** Socket and pid files, removed by cleanup (the logs stay for the sandbox to keep or remove). */
export function qemuRuntimeFiles(p: QemuPaths): string[] {
  return [p.qmp, p.console, p.agent, p.log, p.pid, p.virtiofsd];
}
