import { closeSync, openSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { RuntimeCliError } from './errors.js';

/** What the commands ask of a container's holder. */
export type ControlRequest =
  | { op: 'start' }
  | { op: 'kill'; signal: number; all: boolean }
  | { op: 'pause' }
  | { op: 'resume' }
  /** delete --force: kill what runs, remove the VM, end the holder. */
  | { op: 'destroy' }
  /** To a pod's sandbox holder: create (remove) the pod's container ID in its VM. */
  | { op: 'add-member'; id: string }
  | { op: 'remove-member'; id: string }
  /** To a VM's owner (the container's own holder, or its pod's): new linux.resources for container ID, the VM grown first if they need it. */
  | { op: 'update'; id: string; resources: unknown };

export type ControlReply = { ok: true } | { ok: false; error: string };

/** A request is one JSON line; nothing bigger is read. */
const MAX_REQUEST_BYTES = 4096;

export function controlSocket(dir: string): string {
  return join(dir, 'control.sock');
}

/** The longest path a Unix socket can be bound or reached by (sun_path is 108 bytes; Node truncates longer ones). */
const SUN_PATH_MAX = 107;

/**
 * A path to the control socket that fits sun_path, and what to call once it
 * was bound or connected: the socket's own path, or — under a long --root
 * (an engine's, with 64-character ids) — /proc/self/fd/N/control.sock, N an
 * open descriptor of its directory until then.
 */
function reachableSocketPath(dir: string): { path: string; done: () => void } {
  const path = controlSocket(dir);
  if (Buffer.byteLength(path) <= SUN_PATH_MAX) return { path, done: () => {} };
  const fd = openSync(dir, 'r');
  let open = true;
  return {
    path: `/proc/self/fd/${fd}/control.sock`,
    done: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/**
 * The holder's control socket: one request per connection, one reply. It
 * lives in the container's directory (0700, root's), so only root reaches it.
 */
export function serveControl(dir: string, handle: (r: ControlRequest) => Promise<void>): Promise<Server> {
  const server = createServer((conn) => {
    let text = '';
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on('error', () => {});
    conn.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length > MAX_REQUEST_BYTES) return conn.destroy();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      conn.removeAllListeners('data');
      // The request is in: it may take its time (a poststart hook), the idle limit is off.
      conn.setTimeout(0);
      let request: ControlRequest;
      try {
        request = JSON.parse(text.slice(0, nl)) as ControlRequest;
      } catch {
        return conn.end(`${JSON.stringify({ ok: false, error: 'malformed control request' })}\n`);
      }
      handle(request).then(
        () => conn.end(`${JSON.stringify({ ok: true })}\n`),
        (err: Error) => conn.end(`${JSON.stringify({ ok: false, error: err.message })}\n`),
      );
    });
  });
  const { path, done } = reachableSocketPath(dir);
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  }).finally(done);
}

/** Asks the holder; its refusal is the command's error, in the holder's words. */
export function askHolder(dir: string, request: ControlRequest, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const { path, done } = reachableSocketPath(dir);
    const conn = createConnection(path);
    conn.once('connect', done);
    conn.once('close', done);
    let text = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new RuntimeCliError(`the container's holder did not answer ${request.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('data', (c: Buffer) => (text += c.toString()));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(new RuntimeCliError(`cannot reach the container's holder: ${err.message}`));
    });
    conn.on('end', () => {
      clearTimeout(timer);
      let reply: ControlReply;
      try {
        reply = JSON.parse(text) as ControlReply;
      } catch {
        return reject(new RuntimeCliError(`the container's holder ended before it answered ${request.op}`));
      }
      if (reply.ok) resolve();
      else reject(new RuntimeCliError(reply.error));
    });
  });
}
