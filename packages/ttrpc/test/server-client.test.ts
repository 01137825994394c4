import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsServiceWire, MayuError, taskWire, ttrpcWire } from '@mayu/protocol';
import { encodeFrame, FrameReader, MAX_DATA_SIZE, MessageType } from '../src/frame.js';
import { TtrpcClient } from '../src/client.js';
import { TtrpcServer } from '../src/server.js';
import { Code, TtrpcError } from '../src/status.js';

const { TaskDefinition } = taskWire;
const { EventsDefinition } = eventsServiceWire;

/** Sends raw bytes on a new connection and collects the responses it gets. */
async function raw(path: string, bytes: Buffer, expect: number): Promise<{ streamId: number; code: number; message: string }[]> {
  const socket: Socket = connect(path);
  const reader = new FrameReader();
  const got: { streamId: number; code: number; message: string }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} responses`)), 5000);
    socket.on('data', (c: Buffer) => {
      for (const f of reader.push(c).frames) {
        const r = ttrpcWire.Response.decode(f.data);
        got.push({ streamId: f.streamId, code: r.status?.code ?? 0, message: r.status?.message ?? '' });
      }
      if (got.length >= expect) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.write(bytes);
  });
}

function request(service: string, method: string, payload: Uint8Array = new Uint8Array()): Buffer {
  return Buffer.from(ttrpcWire.Request.encode({ service, method, payload: Buffer.from(payload), timeoutNano: 0, metadata: [] }).finish());
}

describe('ttrpc server and client', () => {
  let dir: string;
  let path: string;
  let server: TtrpcServer;
  let client: TtrpcClient;
  const seen: Record<string, string[]>[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-ttrpc-'));
    path = join(dir, 'ttrpc.sock');
    // The user's own error family reaches the wire through its mapper.
    server = new TtrpcServer({ statusOf: (err) => (err instanceof MayuError && err.code === 'ERR_NOT_FOUND' ? { code: Code.NOT_FOUND, message: err.message } : undefined) });
    server.addService(TaskDefinition, {
      connect: async (req) => ({ shimPid: 1234, taskPid: Number(req.id), version: '2' }),
      wait: async (req, ctx) => {
        seen.push(ctx.metadata);
        // The longer wait answers last: responses go out in completion order.
        await new Promise((r) => setTimeout(r, Number(req.execId)));
        return { exitStatus: Number(req.execId), exitedAt: undefined };
      },
      state: async (req) => {
        if (req.id === 'missing') throw new MayuError('ERR_NOT_FOUND', 'container missing not found');
        if (req.id === 'failed') throw new TtrpcError(Code.FAILED_PRECONDITION, 'not created');
        throw new Error('boom');
      },
      stats: async (req) => ({ stats: { typeUrl: 'x', value: Buffer.alloc(Number(req.id)) } }),
      pids: async (_req, ctx) => new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    await server.listen(path);
    client = await TtrpcClient.connect(path);
  });

  after(() => {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a unary call (the byte-level example from containerd)', async () => {
    const task = client.service(TaskDefinition);
    assert.deepEqual(await task.connect({ id: '5678' }), { shimPid: 1234, taskPid: 5678, version: '2' });
    const bytes = taskWire.ConnectResponse.encode({ shimPid: 1234, taskPid: 5678, version: '' }).finish();
    assert.equal(Buffer.from(bytes).toString('hex'), '08d209' + '10ae2c');
  });

  it('runs many calls at once on one connection, answering out of order, with metadata', async () => {
    const task = client.service(TaskDefinition);
    const order: number[] = [];
    await Promise.all(
      [300, 10, 150].map(async (ms) => {
        const r = await task.wait({ id: 'x', execId: String(ms) }, { metadata: { 'containerd-namespace-ttrpc': 'default' } });
        order.push(r.exitStatus);
      }),
    );
    assert.deepEqual(order, [10, 150, 300]);
    assert.deepEqual(seen.at(-1), { 'containerd-namespace-ttrpc': ['default'] });
  });

  it('carries errors as status codes: mayu codes, explicit codes, UNKNOWN', async () => {
    const task = client.service(TaskDefinition);
    await assert.rejects(task.state({ id: 'missing', execId: '' }), { code: Code.NOT_FOUND, message: 'container missing not found' });
    await assert.rejects(task.state({ id: 'failed', execId: '' }), { code: Code.FAILED_PRECONDITION });
    await assert.rejects(task.state({ id: 'x', execId: '' }), { code: Code.UNKNOWN, message: 'boom' });
  });

  it('answers UNIMPLEMENTED for an unknown service or method', async () => {
    await assert.rejects(client.service(EventsDefinition).forward({ envelope: undefined }), {
      code: Code.UNIMPLEMENTED,
      message: /containerd.services.events.ttrpc.v1.Events\/Forward is not implemented/,
    });
    await assert.rejects(client.service(TaskDefinition).checkpoint({ id: 'x', path: '', options: undefined }), { code: Code.UNIMPLEMENTED });
  });

  it('honours the caller timeout: DEADLINE_EXCEEDED, and the handler is told', async () => {
    await assert.rejects(client.service(TaskDefinition).pids({ id: 'x' }, { timeoutMs: 50 }), { code: Code.DEADLINE_EXCEEDED });
  });

  it('answers RESOURCE_EXHAUSTED for a frame over 4 MiB, and keeps serving the connection', async () => {
    const big = Buffer.alloc(MAX_DATA_SIZE + 1);
    const header = encodeFrame(1, MessageType.Request, Buffer.alloc(0));
    header.writeUInt32BE(big.length, 0);
    const next = encodeFrame(3, MessageType.Request, request('containerd.task.v2.Task', 'Connect', taskWire.ConnectRequest.encode({ id: '1' }).finish()));
    const got = await raw(path, Buffer.concat([header, big, next]), 2);
    assert.deepEqual(
      got.map((g) => [g.streamId, g.code]),
      [
        [1, Code.RESOURCE_EXHAUSTED],
        [3, Code.OK],
      ],
    );
  });

  it('refuses a request over 4 MiB in the client, and answers RESOURCE_EXHAUSTED for a response over 4 MiB', async () => {
    const task = client.service(TaskDefinition);
    await assert.rejects(task.connect({ id: 'x'.repeat(MAX_DATA_SIZE) }), { code: Code.RESOURCE_EXHAUSTED, message: /exceeds the 4 MiB limit/ });
    await assert.rejects(task.stats({ id: String(MAX_DATA_SIZE) }), { code: Code.RESOURCE_EXHAUSTED, message: /response of \d+ bytes exceeds/ });
    assert.equal((await task.stats({ id: '10' })).stats?.value.length, 10, 'the connection still serves');
  });

  it('refuses even or non-increasing stream ids, Data frames and undecodable requests', async () => {
    const ok = request('containerd.task.v2.Task', 'Connect', taskWire.ConnectRequest.encode({ id: '1' }).finish());
    const got = await raw(
      path,
      Buffer.concat([
        encodeFrame(2, MessageType.Request, ok),
        encodeFrame(5, MessageType.Request, ok),
        encodeFrame(3, MessageType.Request, ok),
        encodeFrame(7, MessageType.Data, Buffer.from('x')),
        encodeFrame(9, MessageType.Request, Buffer.from([0xff, 0xff, 0xff])),
      ]),
      5,
    );
    assert.deepEqual(
      got.map((g) => [g.streamId, g.code]).sort((a, b) => a[0] - b[0]),
      [
        [2, Code.INVALID_ARGUMENT],
        [3, Code.INVALID_ARGUMENT],
        [5, Code.OK],
        [7, Code.INVALID_ARGUMENT],
        [9, Code.INVALID_ARGUMENT],
      ],
    );
  });

  it('survives random and truncated input on other connections (fuzz)', async () => {
    for (let i = 0; i < 50; i++) {
      const s = connect(path);
      await new Promise((r) => s.once('connect', r));
      s.write(randomBytes(1 + ((i * 37) % 500)));
      if (i % 2) s.write(encodeFrame(1, MessageType.Request, request('a', 'b')).subarray(0, 12));
      s.destroy();
    }
    assert.deepEqual(await client.service(TaskDefinition).connect({ id: '9' }), { shimPid: 1234, taskPid: 9, version: '2' });
  });

  it('fails pending calls when the connection closes', async () => {
    const c2 = await TtrpcClient.connect(path);
    const pending = c2.service(TaskDefinition).wait({ id: 'x', execId: '500' });
    c2.close();
    await assert.rejects(pending, { code: Code.UNAVAILABLE });
  });
});
