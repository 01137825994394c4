import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { taskWire, ttrpcWire } from '@mayu/protocol';
import { TtrpcClient } from '../src/client.js';
import { encodeFrame, FrameReader, MessageType } from '../src/frame.js';
import { DEFAULT_MAX_PENDING_WRITE_BYTES, TtrpcServer } from '../src/server.js';
import { Code } from '../src/status.js';

const { TaskDefinition } = taskWire;
const TASK = 'containerd.task.v2.Task';

function requestFrame(streamId: number, method: string, payload: Uint8Array): Buffer {
  const body = ttrpcWire.Request.encode({ service: TASK, method, payload: Buffer.from(payload), timeoutNano: 0, metadata: [] }).finish();
  return encodeFrame(streamId, MessageType.Request, body);
}

const waitFrame = (streamId: number): Buffer => requestFrame(streamId, 'Wait', taskWire.WaitRequest.encode({ id: 'x', execId: '' }).finish());
const statsFrame = (streamId: number): Buffer => requestFrame(streamId, 'Stats', taskWire.StatsRequest.encode({ id: 'x' }).finish());

interface Answer {
  streamId: number;
  code: number;
  message: string;
}

/** A raw connection that records every response it reads, and whether the server closed it. */
function rawConnection(path: string): { socket: Socket; answers: Answer[]; bytes: () => number; closed: Promise<void> } {
  const socket = connect(path);
  const reader = new FrameReader();
  const answers: Answer[] = [];
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (const f of reader.push(chunk).frames) {
      const r = ttrpcWire.Response.decode(f.data);
      answers.push({ streamId: f.streamId, code: r.status?.code ?? Code.OK, message: r.status?.message ?? '' });
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, answers, bytes: () => bytes, closed };
}

async function until(what: string, test: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

const isRoot = process.geteuid?.() === 0;

describe('ttrpc server bounds', function () {
  this.timeout(20_000); // real sockets, and megabytes of replies
  let dir: string;
  let path: string;
  let server: TtrpcServer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-ttrpc-bounds-'));
    path = join(dir, 'ttrpc.sock');
  });
  afterEach(() => {
    server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  describe('authorize', () => {
    it('is asked before any byte is read; a refused connection is closed unanswered and runs no handler', async () => {
      let allow = false;
      let handled = 0;
      const bytesReadWhenAsked: number[] = [];
      const rejected: unknown[] = [];
      server = new TtrpcServer({
        authorize: (socket) => {
          bytesReadWhenAsked.push(socket.bytesRead);
          return allow;
        },
        onReject: (err) => rejected.push(err),
      });
      server.addService(TaskDefinition, { wait: async () => (handled++, { exitStatus: 0, exitedAt: undefined }) });
      await server.listen(path);

      const refused = rawConnection(path);
      refused.socket.write(waitFrame(1)); // on its way before the server accepts
      await refused.closed;
      assert.equal(refused.bytes(), 0, 'no answer');
      assert.equal(handled, 0, 'no handler ran');
      assert.deepEqual(bytesReadWhenAsked, [0]);
      assert.equal(rejected.length, 1);
      assert.equal((rejected[0] as { code: number }).code, Code.PERMISSION_DENIED);

      allow = true;
      const client = await TtrpcClient.connect(path);
      await client.service(TaskDefinition).wait({ id: 'x', execId: '' });
      client.close();
      assert.equal(handled, 1, 'an accepted connection is served (and was resumed)');
    });

    it('refuses a connection when authorize throws, and gives onReject what it threw', async () => {
      const rejected: unknown[] = [];
      const refusal = Object.assign(new Error('peer uid 65534 refused'), { code: 'ERR_TEST' });
      server = new TtrpcServer({
        authorize: () => {
          throw refusal;
        },
        onReject: (err) => rejected.push(err),
      });
      await server.listen(path);
      const refused = rawConnection(path);
      refused.socket.write(waitFrame(1));
      await refused.closed;
      assert.equal(refused.bytes(), 0);
      assert.deepEqual(rejected, [refusal]);
    });
  });

  describe('concurrent calls per connection', () => {
    it('runs at most 128 handlers at once for a client that writes 1000 requests', async () => {
      let running = 0;
      let peak = 0;
      let started = 0;
      server = new TtrpcServer();
      server.addService(TaskDefinition, {
        wait: async () => {
          started++;
          peak = Math.max(peak, ++running);
          await sleep(20);
          running--;
          return { exitStatus: 0, exitedAt: undefined };
        },
      });
      await server.listen(path);
      const conn = rawConnection(path);
      conn.socket.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => waitFrame(2 * i + 1))));
      await until('every request is answered', () => conn.answers.length === 1000);
      conn.socket.destroy();

      assert.equal(peak, 128);
      assert.deepEqual(new Set(conn.answers.map((a) => a.streamId)).size, 1000, 'each request answered once');
      const ok = conn.answers.filter((a) => a.code === Code.OK).length;
      const refused = conn.answers.filter((a) => a.code === Code.RESOURCE_EXHAUSTED && a.message === 'too many concurrent calls').length;
      assert.equal(ok + refused, 1000, 'every answer is OK or "too many concurrent calls"');
      assert.equal(ok, started);
      assert.ok(ok >= 128, `${ok} served`);
    });

    it('stops reading at the bound: a request sent meanwhile waits, and is served once a call finishes', async () => {
      const finish: (() => void)[] = [];
      server = new TtrpcServer({ maxConcurrentCalls: 2 });
      server.addService(TaskDefinition, {
        wait: () => new Promise((resolve) => finish.push(() => resolve({ exitStatus: 0, exitedAt: undefined }))),
      });
      await server.listen(path);
      const conn = rawConnection(path);
      conn.socket.write(Buffer.concat([waitFrame(1), waitFrame(3)]));
      await until('two calls run', () => finish.length === 2);
      conn.socket.write(waitFrame(5));
      await sleep(100);
      assert.equal(finish.length, 2, 'the third request is not read while two calls run');
      assert.equal(conn.answers.length, 0);

      finish[0]?.();
      await until('the third call runs', () => finish.length === 3);
      finish[1]?.();
      finish[2]?.();
      await until('three answers', () => conn.answers.length === 3);
      conn.socket.destroy();
      assert.deepEqual(
        conn.answers.map((a) => [a.streamId, a.code]).sort((a, b) => a[0] - b[0]),
        [
          [1, Code.OK],
          [3, Code.OK],
          [5, Code.OK],
        ],
      );
    });

    it('checks its bounds', () => {
      assert.throws(() => new TtrpcServer({ maxConcurrentCalls: 0 }), { name: 'RangeError', message: /maxConcurrentCalls must be a positive integer, got 0/ });
      assert.throws(() => new TtrpcServer({ maxPendingWriteBytes: 1.5 }), { name: 'RangeError', message: /maxPendingWriteBytes .* got 1.5/ });
    });
  });

  describe('replies a client does not read', () => {
    it('disconnects a client that asks for large replies and never reads them; the bytes waiting stay bounded', async () => {
      const MiB = 1 << 20;
      const backlog: number[] = [];
      let handled = 0;
      server = new TtrpcServer({ onWriteBacklog: (pending) => backlog.push(pending) });
      server.addService(TaskDefinition, {
        stats: async () => (handled++, { stats: { typeUrl: 'x', value: Buffer.alloc(MiB) } }),
        wait: async () => ({ exitStatus: 7, exitedAt: undefined }),
      });
      await server.listen(path);
      const greedy = rawConnection(path);
      greedy.socket.pause(); // reads no more than its stream buffer, then nothing
      greedy.socket.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => statsFrame(2 * i + 1))));
      await until('the server gives up on it', () => backlog.length > 0);
      greedy.socket.resume(); // to see the end of the connection
      await greedy.closed;

      assert.equal(handled, 40);
      assert.equal(backlog.length, 1, 'disconnected once');
      const pending = backlog[0];
      assert.ok(pending > DEFAULT_MAX_PENDING_WRITE_BYTES, `${pending} bytes pending`);
      assert.ok(pending <= DEFAULT_MAX_PENDING_WRITE_BYTES + MiB + 64, `${pending} bytes pending: at most one reply past the bound`);

      const client = await TtrpcClient.connect(path);
      assert.equal((await client.service(TaskDefinition).wait({ id: 'x', execId: '' })).exitStatus, 7, 'others are still served');
      client.close();
    });
  });

  describe('listen({ mode })', () => {
    it('creates the socket with that mode: no wider one is ever observable, and the umask is restored', async () => {
      server = new TtrpcServer();
      const umask = process.umask();
      const listening = server.listen(path, { mode: 0o600 });
      // bind() ran inside listen(), synchronously: the file exists, already 0600.
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(process.umask(), umask);
      await listening;
      assert.equal(statSync(path).mode & 0o777, 0o600);
      await assert.rejects(new TtrpcServer().listen(join(dir, 'other.sock'), { mode: 0o1777 }), { name: 'RangeError', message: /mode/ });
    });

    it(`refuses a client of another uid at the file mode (EACCES)${isRoot ? '' : ' — skipped: needs root, to run a client as uid 65534'}`, async function () {
      if (!isRoot) this.skip();
      server = new TtrpcServer();
      await server.listen(path, { mode: 0o600 });
      chmodSync(dir, 0o755); // only the socket's own mode stands in the way
      const script = `require('net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/', timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
      );
      assert.equal(out, 'EACCES');
    });
  });
});
