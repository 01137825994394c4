import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPty, sendFd, setWindowSize, windowSize } from '../src/pty.js';

function read(fd: number): string {
  const buf = Buffer.alloc(256);
  return buf.subarray(0, readSync(fd, buf)).toString();
}

/** Takes one descriptor from a Unix socket (as conmon does with --console-socket), writes `text` to it and says what the message was. */
const RECEIVER = `
import array, os, socket, sys
path, text = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(path + '.tmp'); s.listen(1); os.rename(path + '.tmp', path)
c, _ = s.accept()
fds = array.array('i')
msg, anc, _, _ = c.recvmsg(256, socket.CMSG_SPACE(fds.itemsize))
for level, kind, data in anc:
    fds.frombytes(data[:fds.itemsize])
os.write(fds[0], text.encode())
print(msg.decode())
`;

describe('pty and console socket (the addon)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-pty-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a pty whose slave is raw: bytes pass unchanged both ways (no echo, no \\r\\n)', () => {
    const pty = openPty();
    try {
      assert.match(pty.path, /^\/dev\/pts\/\d+$/);
      writeSync(pty.slave, 'out\nline');
      assert.equal(read(pty.master), 'out\nline');
      writeSync(pty.master, 'typed\n');
      assert.equal(read(pty.slave), 'typed\n');
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });

  it("a size set on the master is the slave's", () => {
    const pty = openPty();
    try {
      setWindowSize(pty.master, 30, 100);
      assert.deepEqual(windowSize(pty.slave), { rows: 30, columns: 100 });
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });

  it('sends the master over a Unix socket (SCM_RIGHTS) with its name, as runc does to --console-socket', async () => {
    const socket = join(dir, 'console.sock');
    const receiver = spawn('python3', ['-c', RECEIVER, socket, 'from the engine'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '';
    receiver.stdout.on('data', (c: Buffer) => (said += c.toString()));
    const done = new Promise((resolve) => receiver.once('close', resolve));
    while (!existsSync(socket)) await sleep(20);
    const pty = openPty();
    try {
      sendFd(socket, pty.master, pty.path);
      assert.equal(await done, 0);
      assert.equal(said.trim(), pty.path);
      assert.equal(read(pty.slave), 'from the engine');
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });

  it('names what is wrong: no listener, a path too long', () => {
    const pty = openPty();
    try {
      assert.throws(() => sendFd(join(dir, 'nobody.sock'), pty.master, 'x'), { code: 'ENOENT', syscall: 'connect' });
      assert.throws(() => sendFd(`/${'x'.repeat(200)}`, pty.master, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });
});
