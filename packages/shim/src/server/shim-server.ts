import { closeSync, constants, openSync, writeFileSync, writeSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { taskWire } from '@mayu/protocol';
import { TtrpcServer } from '@mayu/ttrpc';
import pino, { type Logger } from 'pino';
import { socketPath } from '../address.js';
import { shimConfig } from '../config.js';
import { EventPublisher } from '../events/publisher.js';
import type { ShimFlags } from '../flags.js';
import { TaskService } from './task-service.js';

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
 * `serve`: the long-running shim of one pod. It listens on the group's
 * socket, tells `start` it is ready, and serves containerd's Task API until
 * Shutdown (or SIGTERM) finds nothing left, then powers the VM off and exits.
 */
export async function serve(f: ShimFlags): Promise<void> {
  const bundle = process.cwd();
  const base = shimLogger(bundle, f.debug).child({ namespace: f.namespace });
  const log = base.child({ sandboxId: f.id });
  const events = new EventPublisher(process.env.TTRPC_ADDRESS ?? '', f.namespace, log.child({ subsystem: 'events' }));
  const server = new TtrpcServer({ onError: (err, ctx) => log.info({ err, method: ctx.method }, 'call failed') });
  let stopping = false;
  const exit = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server.close();
    events.close();
    log.info({ event: 'shim.exit' }, 'shim exiting');
    process.exit(0);
  };
  const path = process.env.MAYU_SHIM_SOCKET ?? socketPath(f.address, f.namespace, f.id);
  let tasks: TaskService;
  try {
    tasks = new TaskService({
      groupId: f.id,
      bundle,
      configPath: process.env.MAYU_CONFIG,
      namespace: f.namespace,
      config: shimConfig(),
      log,
      vmLog: base,
      events,
      onShutdown: () => void exit(),
    });
    server.addService(taskWire.TaskDefinition, tasks.implementation());
    await server.listen(path);
  } catch (err) {
    report(`error: ${(err as Error).message}`);
    throw err;
  }
  writeFileSync(join(bundle, 'shim.pid'), String(process.pid));
  process.on('SIGTERM', () => void tasks.close().finally(() => void exit()));
  process.on('SIGINT', () => void tasks.close().finally(() => void exit()));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    void tasks.close().finally(() => process.exit(1));
  });
  report('ready');
  log.info({ event: 'shim.ready', socket: path }, 'shim serving');
}
