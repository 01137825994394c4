import { closeSync, constants, openSync, writeFileSync, writeSync, type WriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { GRPC_STATUS_OF, isMayuError, MayuError, sandboxWire, taskWire } from '@mayu/protocol';
import { TtrpcServer, type ServerOptions } from '@mayu/ttrpc';
import { native, peerCredentials } from '@mayu/vsock';
import pino, { type Logger } from 'pino';
import { ensureSocketDir, SHIM_SOCKET_MODE, socketPath } from '../address.js';
import { shimConfig } from '../config.js';
import { EventPublisher } from '../events/publisher.js';
import type { ShimFlags } from '../flags.js';
import { withSystemPath } from '@mayu/runtime';
import { SandboxService } from './sandbox-service.js';
import { TaskService } from './task-service.js';

/** containerd.task.v3.Task: containerd 2.x's name for the Task API, whose messages are v2's. */
export const TASK_V3_DEFINITION: Omit<typeof taskWire.TaskDefinition, 'fullName'> & { fullName: 'containerd.task.v3.Task' } = { ...taskWire.TaskDefinition, fullName: 'containerd.task.v3.Task' };

/** The fd `start` reads "ready" from. */
const READY_FD = 3;

/**
 * The shim's logger: pino JSON into the bundle's `log` FIFO, which
 * containerd copies to its own log (stderr when there is no reader).
 */
function shimLogger(bundle: string, debug: boolean): Logger {
  let dest: number | WriteStream = 2;
  try {
    dest = openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    // no log FIFO (not started by containerd)
  }
  const level = process.env.MAYU_LOG_LEVEL ?? (debug ? 'debug' : 'info');
  return pino({ name: 'containerd-shim-mayu-v2', level }, typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest);
}

/** Tells `start` how the server came up: "ready" or "error: …". */
function report(text: string): void {
  // Only `start` (which sets MAYU_SHIM_SOCKET) gives the server a report pipe.
  if (!process.env.MAYU_SHIM_SOCKET) return;
  try {
    // Synchronously: an error report is followed by process.exit.
    writeSync(READY_FD, text);
    closeSync(READY_FD);
  } catch {
    // started by hand, not by `start`
  }
}

/**
 * Who may talk to the shim: a peer whose uid (SO_PEERCRED, at connect time)
 * is the shim's own euid, or root. This is the check containerd's own shims
 * make with ttrpc's UnixSocketRequireSameUser, except that that one also
 * compares the gid (with egid) and has no exception for uid 0; for a shim
 * running as root, as containerd starts it, both come to "root only". A
 * refused peer is thrown as ERR_PERMISSION_DENIED with its pid, uid and gid
 * in `details`. Throws at once when the socket addon cannot read peer
 * credentials, so that the shim fails to start rather than refuse everyone.
 */
export function sameUserOrRoot(euid: number = process.geteuid?.() ?? 0): (socket: Socket) => boolean {
  if (typeof native().peerCredentials !== 'function') {
    throw new MayuError('ERR_HOST_CAPABILITY', 'the socket addon (vsock.node) cannot read peer credentials: rebuild or reinstall it');
  }
  return (socket) => {
    const peer = peerCredentials(socket);
    if (peer.uid === euid || peer.uid === 0) return true;
    throw new MayuError('ERR_PERMISSION_DENIED', `peer uid ${peer.uid} is neither root nor the shim's uid ${euid}`, { details: { ...peer } });
  };
}

/** The shim's ttrpc server bounds: the peer check, and what is logged when a connection is refused or dropped. */
export function shimServerOptions(log: Logger): ServerOptions {
  return {
    // The shim's errors are MayuErrors; their one table gives the status.
    statusOf: (err) => (isMayuError(err) ? { code: GRPC_STATUS_OF[err.code], message: err.message } : undefined),
    onError: (err, ctx) => log.info({ err, method: ctx.method }, 'call failed'),
    authorize: sameUserOrRoot(),
    onReject: (err) => {
      const peer = err instanceof MayuError ? err.details : {};
      log.warn({ event: 'shim.peer_refused', err, peer }, 'refused a connection to the shim socket');
    },
    onWriteBacklog: (pendingBytes) => log.warn({ event: 'shim.client_dropped', pendingBytes }, 'dropped a connection that did not read its replies'),
  };
}

/**
 * Listens on the shim's socket like containerd's shims: the directory made
 * 0700 when missing (an existing one is containerd's, left alone), the
 * socket file 0600 — from the moment it exists, where containerd's shims
 * chmod it after listen.
 */
export async function listenShimSocket(server: TtrpcServer, path: string, log: Logger): Promise<void> {
  const dir = dirname(path);
  const { created, mode } = ensureSocketDir(dir);
  if (!created && mode & 0o077) {
    log.info({ dir, mode: mode.toString(8) }, 'the socket directory is open to others; the socket itself is 0600 and checks its peer');
  }
  await server.listen(path, { mode: SHIM_SOCKET_MODE });
}

/**
 * `serve`: the long-running shim of one pod. It listens on the group's
 * socket, tells `start` it is ready, and serves containerd's Task API until
 * Shutdown (or SIGTERM) finds nothing left, then powers the VM off and exits.
 */
export async function serve(f: ShimFlags): Promise<void> {
  // cri-o starts a shim with its own environment, which may lack sbin (ip, tc, nsenter).
  process.env.PATH = withSystemPath();
  const bundle = process.cwd();
  const base = shimLogger(bundle, f.debug).child({ namespace: f.namespace });
  const log = base.child({ sandboxId: f.id });
  const events = new EventPublisher(process.env.TTRPC_ADDRESS ?? '', f.namespace, log.child({ subsystem: 'events' }));
  let server: TtrpcServer | undefined;
  let stopping = false;
  const exit = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server?.close();
    events.close();
    log.info({ event: 'shim.exit' }, 'shim exiting');
    process.exit(0);
  };
  const path = process.env.MAYU_SHIM_SOCKET ?? socketPath(f.address, f.namespace, f.id);
  let tasks: TaskService;
  try {
    const config = shimConfig();
    for (const w of config.warnings) log.warn({ event: 'config.deprecated' }, w);
    tasks = new TaskService({
      groupId: f.id,
      bundle,
      configPath: process.env.MAYU_CONFIG,
      namespace: f.namespace,
      config,
      log,
      vmLog: base,
      events,
      onShutdown: () => void exit(),
    });
    server = new TtrpcServer(shimServerOptions(log.child({ subsystem: 'ttrpc' })));
    server.addService(taskWire.TaskDefinition, tasks.implementation());
    // Task API v3 (containerd 2.x, when start answered version 3): the same messages under another service name.
    server.addService(TASK_V3_DEFINITION, tasks.implementation());
    // containerd 2.x with sandboxer = "shim" drives the pod through the Sandbox API on the same socket.
    server.addService(sandboxWire.SandboxDefinition, new SandboxService(f.id, bundle, tasks, log.child({ subsystem: 'sandbox' })).implementation());
    await listenShimSocket(server, path, log);
  } catch (err) {
    report(`error: ${(err as Error).message}`);
    throw err;
  }
  writeFileSync(join(bundle, 'shim.pid'), String(process.pid));
  // The working directory `start` gave us is the first task's bundle, which containerd removes
  // when that task is deleted — before the pod's other containers when it recovers after a
  // restart. Every process spawned from a removed directory fails (umount among them, so
  // their Delete could never finish), so the server works from / and uses absolute paths.
  process.chdir('/');
  process.on('SIGTERM', () => void tasks.close().finally(() => void exit()));
  process.on('SIGINT', () => void tasks.close().finally(() => void exit()));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    void tasks.close().finally(() => process.exit(1));
  });
  report('ready');
  log.info({ event: 'shim.ready', socket: path }, 'shim serving');
}
