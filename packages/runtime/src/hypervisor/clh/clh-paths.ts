import { join } from 'node:path';

/**
 * The files a Cloud Hypervisor VM keeps in its sandbox's state directory.
 * What CH itself creates (its sockets and log) lies in `vmmDir`, a
 * directory of its own that is handed to its user when it runs unprivileged.
 * Socket names stay short: a Unix socket path has at most 107 bytes.
 */
export interface ClhPaths {
  /** <state>/clh: CH's own directory. */
  vmmDir: string;
  /** --api-socket (v53 adds `<api>.lock` next to it). */
  api: string;
  /** The hybrid-vsock socket CH listens on (VsockConfig.socket). */
  vsock: string;
  /** The serial port (guest ttyS0, the kernel console) in Socket mode. */
  serial: string;
  /** CH's --log-file. */
  log: string;
  /** The kernel console, captured from `serial` up to a cap. */
  consoleLog: string;
  /** CH's stderr (what it prints before its log file is open). */
  stderr: string;
  /** virtiofsd's socket (shared_fs = "virtio-fs"). */
  virtiofsd: string;
  virtiofsdLog: string;
}

export function clhPaths(stateDir: string): ClhPaths {
  const vmmDir = join(stateDir, 'clh');
  return {
    vmmDir,
    api: join(vmmDir, 'api.sock'),
    vsock: join(vmmDir, 'vsock.sock'),
    serial: join(vmmDir, 'serial.sock'),
    log: join(vmmDir, 'clh.log'),
    consoleLog: join(stateDir, 'console.log'),
    stderr: join(stateDir, 'clh-stderr.log'),
    virtiofsd: join(stateDir, 'virtiofsd.sock'),
    virtiofsdLog: join(stateDir, 'virtiofsd.log'),
  };
}

/** The sockets (and v53's API lock file), removed by cleanup; the logs stay for the sandbox to keep or remove. */
export function clhRuntimeFiles(p: ClhPaths): string[] {
  return [p.api, `${p.api}.lock`, p.vsock, p.serial, p.virtiofsd];
}
