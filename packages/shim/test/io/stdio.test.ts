import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentClient } from '@mayu/runtime';
import { parseStdio, ShimIo } from '../../src/io/stdio.js';

describe('stdio URIs', () => {
  it('reads FIFO paths and fifo, file and binary URIs', () => {
    assert.deepEqual(parseStdio('stdout', ''), { kind: 'none' });
    assert.deepEqual(parseStdio('stdout', '/run/ctrd/fifo/x-stdout'), { kind: 'fifo', path: '/run/ctrd/fifo/x-stdout' });
    assert.deepEqual(parseStdio('stdout', 'fifo:///run/f'), { kind: 'fifo', path: '/run/f' });
    assert.deepEqual(parseStdio('stdout', 'file:///var/log/a%20b.log'), { kind: 'file', path: '/var/log/a b.log' });
    assert.deepEqual(parseStdio('stdout', 'binary:///usr/bin/logger?id=1&flag'), { kind: 'binary', path: '/usr/bin/logger', args: ['id', '1', 'flag'] });
  });

  it('refuses what it cannot write to, naming the field and value', () => {
    assert.throws(() => parseStdio('stderr', 'relative/path'), /stderr: is neither a path nor a URI \(got "relative\/path"\)/);
    assert.throws(() => parseStdio('stdout', 'http://example.invalid/x'), /stdout: has an unsupported scheme/);
  });
});

/**
 * containerd's CloseIO arrives while the client's input is still on its way:
 * in the FIFO, and in the stream's own buffer (read from the FIFO while the
 * pump waited for the agent). All of it reaches the agent, in order, before
 * the process's stdin is closed.
 */
describe('ShimIo stdin from a FIFO', () => {
  let dir: string;
  let writer: ChildProcess | null = null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-shim-stdin-'));
  });
  afterEach(() => {
    writer?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('CloseIO with input still buffered: every byte reaches the agent, in order, then stdin is closed', async () => {
    const input = randomBytes(1024 * 1024);
    writeFileSync(join(dir, 'input'), input);
    const fifo = join(dir, 'stdin');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const received: Buffer[] = [];
    let closedAfter = -1;
    // An agent that takes a while for each chunk (the guest under TCG), so input backs up.
    const agent = {
      readOutput: async () => Buffer.alloc(0),
      writeStdin: async (_ref: unknown, chunk: Buffer) => {
        await sleep(5);
        received.push(Buffer.from(chunk));
        return chunk.length;
      },
      closeStdin: async () => {
        closedAfter = Buffer.concat(received).length;
      },
    } as unknown as AgentClient;
    const io = new ShimIo({ stdin: fifo, stdout: '', stderr: '', terminal: false }, { id: 'c', namespace: 'default' });
    await io.attach(agent, { containerId: 'c', execId: '' });
    // The client writes everything and keeps its end open (as ctr does), then says CloseIO.
    const fd = openSync(fifo, constants.O_WRONLY);
    const w = spawn('sh', ['-c', `cat "${join(dir, 'input')}"; echo written >&2; exec sleep 60`], { stdio: ['ignore', fd, 'pipe'] });
    writer = w;
    closeSync(fd);
    await new Promise((resolve) => w.stderr?.once('data', resolve));
    assert.ok(io.closeStdin());
    for (let waited = 0; closedAfter < 0 && waited < 20_000; waited += 20) await sleep(20);
    const got = Buffer.concat(received);
    assert.equal(got.length, input.length, `the agent got ${got.length} of ${input.length} bytes`);
    assert.ok(got.equals(input), 'in order');
    assert.equal(closedAfter, input.length, "the process's stdin was closed after the last byte");
    io.close();
  });
});
