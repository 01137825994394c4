import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../src/native.js';
import { peerCredentials } from '../src/peer-credentials.js';

// Unix and TCP sockets only: never AF_VSOCK on the development host.
describe('peerCredentials (SO_PEERCRED)', () => {
  let dir: string;
  let path: string;
  let server: Server;
  let accepted: Promise<Socket>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-peercred-'));
    path = join(dir, 's.sock');
    server = createServer();
    accepted = new Promise((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(path, resolve));
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('names this process at both ends of a connection it made to itself', async () => {
    const client = connect(path);
    await new Promise((r) => client.once('connect', r));
    const conn = await accepted;
    const me = { pid: process.pid, uid: process.geteuid?.(), gid: process.getegid?.() };
    assert.deepEqual(peerCredentials(conn), me);
    assert.deepEqual(peerCredentials(client), me);
    client.destroy();
    conn.destroy();
  });

  it('names the connecting process: its pid, and (as root) the unprivileged uid it runs as', async () => {
    const root = process.geteuid?.() === 0;
    // As root, the client runs as nobody: let it reach the socket.
    chmodSync(dir, 0o755);
    chmodSync(path, 0o666);
    const ids = root ? { uid: 65534, gid: 65534 } : {};
    const script = `const s = require('net').connect(${JSON.stringify(path)}); s.on('data', () => s.end());`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore', cwd: '/', ...ids });
    const conn = await accepted;
    const cred = peerCredentials(conn);
    conn.end('bye');
    await new Promise((r) => child.once('exit', r));
    assert.equal(cred.pid, child.pid);
    assert.equal(cred.uid, root ? 65534 : process.geteuid?.());
    assert.equal(cred.gid, root ? 65534 : process.getegid?.());
  });

  it('throws ENOPROTOOPT for a socket that is not AF_UNIX (TCP)', async () => {
    const tcp = createServer();
    const conn = new Promise<Socket>((resolve) => tcp.once('connection', resolve));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const client = connect((tcp.address() as { port: number }).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    try {
      assert.throws(() => peerCredentials(client), { code: 'ENOPROTOOPT', syscall: 'getsockopt' });
    } finally {
      client.destroy();
      (await conn).destroy();
      await new Promise((r) => tcp.close(r));
    }
  });

  it('throws ERR_VSOCK_FD for a destroyed socket, ENOTCONN for a listening one, ENOTSOCK for a file', async () => {
    const client = connect(path);
    await new Promise((r) => client.once('connect', r));
    (await accepted).destroy();
    client.destroy();
    assert.throws(() => peerCredentials(client), { code: 'ERR_VSOCK_FD' });
    const listenFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    assert.throws(() => native().peerCredentials(listenFd), { code: 'ENOTCONN', syscall: 'getpeername' });
    const file = openSync(join(dir, 'f'), 'w');
    try {
      assert.throws(() => native().peerCredentials(file), { code: 'ENOTSOCK' });
    } finally {
      closeSync(file);
    }
  });
});
