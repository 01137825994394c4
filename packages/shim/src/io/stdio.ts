import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createWriteStream, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { invalidArgument, type ProcessRef } from '@mayu/protocol';
import { pumpOutput, writableSink, type AgentClient } from '@mayu/runtime';

/** How long a logging binary may take to signal that it is ready. */
const LOGGER_READY_TIMEOUT_MS = 10_000;

/** The stdio containerd gives a task or exec: URIs (or bare FIFO paths), "" for none. */
export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

type Target = { kind: 'none' } | { kind: 'fifo'; path: string } | { kind: 'file'; path: string } | { kind: 'binary'; path: string; args: string[] };

/** Parses one stdio string: "" → none, a path → FIFO, file:///path, binary:///path?k=v&... */
export function parseStdio(field: string, value: string): Target {
  if (!value) return { kind: 'none' };
  if (value.startsWith('/')) return { kind: 'fifo', path: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(field, value, 'is neither a path nor a URI');
  }
  const path = decodeURIComponent(url.pathname);
  switch (url.protocol) {
    case 'fifo:':
      return { kind: 'fifo', path };
    case 'file:':
      return { kind: 'file', path };
    case 'binary:':
      return { kind: 'binary', path, args: [...url.searchParams.entries()].flatMap(([k, v]) => (v ? [k, v] : [k])) };
    default:
      throw invalidArgument(field, value, 'has an unsupported scheme (fifo, file and binary are)');
  }
}

/** Reads what a non-blocking FIFO holds now (null when empty or at EOF). */
function readAvailable(fd: number): Buffer | null {
  const buf = Buffer.alloc(64 * 1024);
  try {
    const n = readSync(fd, buf, 0, buf.length, null);
    return n > 0 ? buf.subarray(0, n) : null;
  } catch {
    return null;
  }
}

/**
 * A process's stdio on the host side, as containerd asked for it: output is
 * read from the agent and written to FIFOs, files or a logging binary; FIFO
 * stdin is read and sent to the agent, its end closing the process's stdin.
 */
export class ShimIo {
  private readonly streams: (Readable | Writable)[] = [];
  private logger: ChildProcess | null = null;
  private stdin: { finish(drain: boolean): void } | null = null;
  private closed = false;
  /** Resolves when every output stream has ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly paths: StdioPaths,
    private readonly meta: { id: string; namespace: string },
  ) {}

  /** Starts copying between the agent and the containerd side. */
  async attach(agent: AgentClient, ref: ProcessRef): Promise<void> {
    const out = await this.outputs();
    // A terminal has one output stream. Output nobody asked for is still read, so the process never blocks on it.
    const streams = this.paths.terminal ? (['stdout'] as const) : (['stdout', 'stderr'] as const);
    const pumps = streams.map(async (stream) => {
      const sink = out[stream];
      await pumpOutput(agent, ref, stream, sink ? [writableSink(sink)] : []);
      sink?.end();
    });
    this.done = Promise.all(pumps).then(() => undefined);
    const stdin = parseStdio('stdin', this.paths.stdin);
    if (stdin.kind === 'fifo') this.pumpStdin(agent, ref, stdin.path);
  }

  /** Stops everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams) s.destroy();
    this.logger?.kill();
  }

  /**
   * containerd's CloseIO: no more input. What is already in the FIFO is still
   * delivered, then the process's stdin is closed. Returns false when the
   * process has no FIFO stdin (the caller closes it directly).
   */
  closeStdin(): boolean {
    if (!this.stdin) return false;
    this.stdin.finish(true);
    return true;
  }

  /**
   * Stdin from a FIFO. It is opened without blocking: a blocking open waits
   * in the thread pool for a writer that may never come and keeps the shim
   * from exiting. The client's writer is open by the time a task is created
   * (a writer waiting in open(2) counts), so EOF means it closed.
   */
  private pumpStdin(agent: AgentClient, ref: ProcessRef, path: string): void {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const input = new Socket({ fd, readable: true, writable: false });
    this.streams.push(input);
    let chain = Promise.resolve();
    let finished = false;
    const send = (chunk: Buffer): void => {
      chain = chain.then(async () => void (await agent.writeStdin(ref, chunk))).catch(() => {});
    };
    const finish = (drain: boolean): void => {
      if (finished) return;
      finished = true;
      input.pause();
      if (drain) {
        // Whatever the client wrote before CloseIO still goes, in order: what
        // the stream already read from the FIFO (up to its high-water mark,
        // read while the pump waited for the agent), then what is in the FIFO.
        input.removeAllListeners('data');
        for (let chunk = input.read() as Buffer | null; chunk; chunk = input.read() as Buffer | null) send(chunk);
        for (let chunk = readAvailable(fd); chunk; chunk = readAvailable(fd)) send(chunk);
      }
      input.destroy();
      chain = chain.then(() => (this.closed ? undefined : agent.closeStdin(ref))).catch(() => {});
    };
    input.on('error', () => finish(false));
    input.on('end', () => finish(false));
    input.on('data', (chunk: Buffer) => {
      input.pause();
      send(chunk);
      void chain.then(() => {
        if (!finished) input.resume();
      });
    });
    this.stdin = { finish };
  }

  private async outputs(): Promise<{ stdout: Writable | null; stderr: Writable | null }> {
    const targets = { stdout: parseStdio('stdout', this.paths.stdout), stderr: parseStdio('stderr', this.paths.stderr) };
    if (targets.stdout.kind === 'binary') return this.binaryLogger(targets.stdout);
    const open1 = async (t: Target): Promise<Writable | null> => {
      if (t.kind === 'fifo') {
        // Read-write, so the open never waits for the client's reader; the
        // output waits in the FIFO (backpressure) until someone reads it.
        const fd = openSync(t.path, constants.O_RDWR | constants.O_NONBLOCK);
        const s = new Socket({ fd, readable: false, writable: true });
        s.on('error', () => {});
        this.streams.push(s);
        return s;
      }
      if (t.kind === 'file') {
        const s = createWriteStream(t.path, { flags: 'a' });
        s.on('error', () => {});
        this.streams.push(s);
        return s;
      }
      return null;
    };
    return { stdout: await open1(targets.stdout), stderr: this.paths.terminal ? null : await open1(targets.stderr) };
  }

  /** binary://: a logging program gets stdout on fd 3, stderr on fd 4, and says it is ready by closing fd 5. */
  private async binaryLogger(t: Target & { kind: 'binary' }): Promise<{ stdout: Writable; stderr: Writable }> {
    const logger = spawn(t.path, t.args, {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, CONTAINER_ID: this.meta.id, CONTAINER_NAMESPACE: this.meta.namespace },
      detached: true,
    });
    this.logger = logger;
    await new Promise<void>((resolve, reject) => {
      const ready = (logger.stdio as unknown as (Readable | null)[])[5] as Readable;
      const timer = setTimeout(() => {
        try {
          process.kill(-(logger.pid ?? 0), 'SIGKILL');
        } catch {
          // already gone
        }
        reject(invalidArgument('stdout', `binary://${t.path}`, `did not signal that it is ready (close fd 5) within ${LOGGER_READY_TIMEOUT_MS / 1000} s`));
      }, LOGGER_READY_TIMEOUT_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      ready.on('data', () => {});
      ready.once('end', done);
      ready.once('close', done);
      logger.once('error', (err) => {
        clearTimeout(timer);
        reject(invalidArgument('stdout', `binary://${t.path}`, `cannot be started (${err.message})`));
      });
      logger.once('exit', done);
    });
    return { stdout: logger.stdio[3] as Writable, stderr: logger.stdio[4] as Writable };
  }
}
