import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskWire, ttrpcWire } from '@mayu/protocol';
import { encodeFrame, MessageType, TtrpcClient } from '@mayu/ttrpc';
import { TASK_V3_DEFINITION } from '../../src/server/shim-server.js';

const SHIM_BIN = fileURLToPath(new URL('../../../bin/containerd-shim-mayu-v2.js', import.meta.url));
const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;
const needsRoot = isRoot ? '' : ' — skipped: needs root, to run a client as uid 65534';

/** What an unprivileged client (uid 65534) got from the socket. */
interface Attempt {
  pid: number;
  connected: boolean;
  bytes: number;
  error?: string;
}

/**
 * Runs a client as nobody that connects to `path`, sends one Task.Connect
 * request and reports what came back: an error code, or the bytes it read
 * before the connection closed.
 */
function connectAsNobody(path: string): Promise<Attempt> {
  const body = ttrpcWire.Request.encode({
    service: 'containerd.task.v2.Task',
    method: 'Connect',
    payload: Buffer.from(taskWire.ConnectRequest.encode({ id: 'x' }).finish()),
    timeoutNano: 0,
    metadata: [],
  }).finish();
  const frame = encodeFrame(1, MessageType.Request, body).toString('hex');
  const script = `
    const r = { pid: process.pid, connected: false, bytes: 0 };
    const done = () => { console.log(JSON.stringify(r)); process.exit(0); };
    const s = require('net').connect(${JSON.stringify(path)});
    s.on('connect', () => { r.connected = true; s.write(Buffer.from('${frame}', 'hex')); });
    s.on('data', (c) => (r.bytes += c.length));
    s.on('error', (e) => (r.error = e.code));
    s.on('close', done);
    setTimeout(() => { r.error = 'still open after 5 s'; done(); }, 5000);`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, cwd: '/', timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as Attempt))),
  );
}

describe('the shim socket (serve)', function () {
  this.timeout(20_000); // a shim process, and clients run as another uid
  let root: string;
  let socketDir: string;
  let socket: string;
  let shim: ChildProcess;
  let log = '';

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'mayu-shim-socket-'));
    const bundle = join(root, 'bundle');
    mkdirSync(bundle);
    socketDir = join(root, 'run', 's'); // missing: the shim makes it
    socket = join(socketDir, 'shim.sock');
    const env: NodeJS.ProcessEnv = { ...process.env, MAYU_SHIM_SOCKET: socket };
    delete env.TTRPC_ADDRESS;
    delete env.MAYU_CONFIG;
    shim = spawn(process.execPath, [SHIM_BIN, '-namespace', 'unit', '-address', join(root, 'containerd.sock'), '-id', 'socket-test', 'serve'], {
      cwd: bundle,
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    shim.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    const report = await new Promise<string>((resolve) => {
      let text = '';
      const pipe = shim.stdio[3] as NodeJS.ReadableStream;
      pipe.on('data', (c: Buffer) => (text += c.toString()));
      pipe.on('end', () => resolve(text));
      shim.once('exit', () => resolve(text));
    });
    assert.equal(report, 'ready', `the shim did not start: ${report} ${log}`);
  });

  after(async () => {
    if (shim.exitCode === null) {
      const exited = new Promise((r) => shim.once('exit', r));
      shim.kill('SIGTERM');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('makes its socket directory 0700 and its socket 0600', () => {
    assert.equal(statSync(socketDir).mode & 0o777, 0o700);
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  it('serves a client of its own uid (containerd), under the Task API v2 and v3', async () => {
    const client = await TtrpcClient.connect(socket);
    try {
      assert.equal((await client.service(taskWire.TaskDefinition).connect({ id: 'x' })).shimPid, shim.pid);
      assert.equal((await client.service(TASK_V3_DEFINITION).connect({ id: 'x' })).shimPid, shim.pid, 'containerd.task.v3.Task');
    } finally {
      client.close();
    }
  });

  it(`refuses an unprivileged client at the file modes: EACCES${needsRoot}`, async function () {
    if (!isRoot) this.skip();
    chmodSync(root, 0o755);
    chmodSync(join(root, 'run'), 0o755);
    const throughDir = await connectAsNobody(socket);
    assert.equal(throughDir.connected, false);
    assert.equal(throughDir.error, 'EACCES');
    chmodSync(socketDir, 0o755); // now only the socket's own 0600 stands in the way
    try {
      const attempt = await connectAsNobody(socket);
      assert.equal(attempt.connected, false);
      assert.equal(attempt.error, 'EACCES');
    } finally {
      chmodSync(socketDir, 0o700);
    }
  });

  it(`refuses an unprivileged peer by its uid (SO_PEERCRED) even on a 0666 socket, unanswered, and logs its pid and uid${needsRoot}`, async function () {
    if (!isRoot) this.skip();
    chmodSync(root, 0o755);
    chmodSync(join(root, 'run'), 0o755);
    chmodSync(socketDir, 0o755);
    chmodSync(socket, 0o666);
    const attempt = await connectAsNobody(socket);
    assert.equal(attempt.connected, true, 'the file modes let it connect');
    assert.equal(attempt.bytes, 0, 'no answer');
    assert.notEqual(attempt.error, 'still open after 5 s', 'the shim closed the connection');
    const refusals = log
      .split('\n')
      .filter((l) => l.includes('shim.peer_refused'))
      .map((l) => JSON.parse(l) as { peer: { pid: number; uid: number } });
    assert.deepEqual(
      refusals.map((r) => [r.peer.pid, r.peer.uid]),
      [[attempt.pid, NOBODY]],
    );
    const client = await TtrpcClient.connect(socket);
    try {
      await client.service(taskWire.TaskDefinition).connect({ id: 'x' });
    } finally {
      client.close();
    }
  });
});
