import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialHybridVsock } from '../src/hybrid-dialer.js';

/** A fake hybrid-vsock Unix socket (what Cloud Hypervisor serves). */
function fakeVmm(onConnect: (line: string, s: Socket) => void): Promise<{ server: Server; path: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mayu-hv-'));
  const path = join(dir, 'vsock.sock');
  const server = createServer((s) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onData);
      onConnect(buf.slice(0, nl), s);
    };
    s.on('data', onData);
    s.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ server, path, dir })));
}

describe('hybrid vsock dialer', () => {
  let vmm: Awaited<ReturnType<typeof fakeVmm>> | undefined;
  afterEach(() => {
    vmm?.server.close();
    if (vmm) rmSync(vmm.dir, { recursive: true, force: true });
    vmm = undefined;
  });

  it('sends CONNECT <port>, accepts OK <n> and keeps bytes that follow it', async () => {
    let asked = '';
    vmm = await fakeVmm((line, s) => {
      asked = line;
      s.write('OK 1073741824\nfirst bytes');
      s.on('data', (c: Buffer) => s.write(c));
    });
    const { socket, hostPort } = await dialHybridVsock(vmm.path, 1024);
    assert.equal(asked, 'CONNECT 1024');
    assert.equal(hostPort, 1073741824);
    const got = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('echo')) resolve(text);
      });
      socket.resume();
      socket.write('echo');
    });
    assert.equal(got, 'first bytesecho');
    socket.destroy();
  });

  it('fails with EPROTO on an unexpected reply', async () => {
    vmm = await fakeVmm((_l, s) => s.write('NOPE\n'));
    await assert.rejects(dialHybridVsock(vmm.path, 1024), { code: 'EPROTO', message: /unexpected reply "NOPE"/ });
  });

  it('fails with EPROTO when the reply line never ends', async () => {
    vmm = await fakeVmm((_l, s) => s.write('x'.repeat(100)));
    await assert.rejects(dialHybridVsock(vmm.path, 1024), { code: 'EPROTO' });
  });

  it('fails with ECONNRESET when the VMM closes (no listener on that port)', async () => {
    vmm = await fakeVmm((_l, s) => s.end());
    await assert.rejects(dialHybridVsock(vmm.path, 5000), { code: 'ECONNRESET', message: /guest port 5000/ });
  });

  it('fails with ETIMEDOUT when the VMM never answers', async () => {
    vmm = await fakeVmm(() => {});
    await assert.rejects(dialHybridVsock(vmm.path, 1024, { timeoutMs: 100 }), { code: 'ETIMEDOUT' });
  });

  it('rejects a port that is not a u32', async () => {
    await assert.rejects(dialHybridVsock('/nonexistent', -1), RangeError);
  });
});
