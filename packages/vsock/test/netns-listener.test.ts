import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { listenInNetns, originalDestination } from '../src/netns-listener.js';

/** Connects to 127.0.0.1:port from inside the namespace (a node child in it), sends `text`, and waits for the child to end. */
function connectFromNamespace(ns: string, port: number, text: string): Promise<number | null> {
  // Exits 3 when it cannot connect; once connected, a reset (the test closing its end) is fine.
  const script = `let c=false;const s=require('net').connect(${port},'127.0.0.1',()=>{c=true;s.end(${JSON.stringify(text)})});s.on('error',()=>process.exit(c?0:3));s.on('close',()=>process.exit(0));`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: 'ignore', timeout: 10_000 });
  return new Promise((resolve) => child.on('close', resolve));
}

// As root, in a network namespace of the test's own (no address but lo's).
describe('a TCP listener in another network namespace, and where redirected connections were headed', () => {
  const ns = `mayu-unit-${randomBytes(3).toString('hex')}`;
  let server: Server;
  let port: number;
  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  });
  after(() => {
    server?.close();
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it('listens on 127.0.0.1 in that namespace only, while this process stays in its own', async () => {
    server = await listenInNetns(`/run/netns/${ns}`);
    port = (server.address() as AddressInfo).port;
    assert.ok(port > 0);
    const fromHere = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve('connected')));
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(fromHere, 'ECONNREFUSED', "this namespace's loopback has no such listener");
    // Read when the connection is accepted, while its fd is open.
    const dst = new Promise<string>((resolve) =>
      server.once('connection', (s: Socket) => {
        try {
          resolve(JSON.stringify(originalDestination(s)));
        } catch (err) {
          resolve((err as NodeJS.ErrnoException).code ?? 'error');
        }
        s.destroy();
      }),
    );
    assert.equal(await connectFromNamespace(ns, port, 'direct'), 0);
    assert.equal(await dst, 'ENOENT', 'a connection that was not redirected has no original destination');
  });

  it('names the port a redirected connection was headed for (SO_ORIGINAL_DST)', async () => {
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-w',
      '5',
      '-t',
      'nat',
      '-A',
      'OUTPUT',
      '-o',
      'lo',
      '-p',
      'tcp',
      '-d',
      '127.0.0.1',
      '!',
      '--dport',
      String(port),
      '-j',
      'REDIRECT',
      '--to-ports',
      String(port),
    ]);
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const received = accepted.then(
      (s) =>
        new Promise<{ dst: { address: string; port: number }; data: string }>((resolve) => {
          const dst = originalDestination(s);
          let data = '';
          s.on('data', (c: Buffer) => (data += c.toString()));
          s.on('end', () => resolve({ dst, data }));
        }),
    );
    assert.equal(await connectFromNamespace(ns, 4242, 'to 4242'), 0);
    assert.deepEqual(await received, { dst: { address: '127.0.0.1', port: 4242 }, data: 'to 4242' });
  });

  it('refuses what is not a network namespace, naming the errno', async () => {
    await assert.rejects(listenInNetns('/proc/self/ns/pid'), { code: 'EINVAL', syscall: 'setns' });
    await assert.rejects(listenInNetns('/nonexistent/ns'), { code: 'ENOENT', syscall: 'open' });
  });
});
