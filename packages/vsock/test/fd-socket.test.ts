import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketFromFd } from '../src/fd-socket.js';

describe('socketFromFd', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-fd-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('streams over descriptors net.Socket refuses (a FIFO, like a virtio port)', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Both ends open before either is read: a FIFO without a writer reads as end-of-file.
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const reader = socketFromFd(readFd, { writable: false });
    const writer = socketFromFd(writeFd, { readable: false });
    const got = new Promise<string>((resolve) => {
      let text = '';
      reader.on('data', (c: Buffer) => (text += c.toString()));
      reader.on('end', () => resolve(text));
    });
    writer.write('through the fifo', () => writer.destroy());
    assert.equal(await got, 'through the fifo');
    reader.destroy();
  });

  it('rejects a descriptor that is not a number or not open', () => {
    assert.throws(() => socketFromFd(-1), RangeError);
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    assert.throws(() => socketFromFd(fd), { code: 'ERR_VSOCK_FD' });
  });
});
