import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, type QmpEvent } from '../../../src/hypervisor/qemu/qmp-client.js';

type Handler = (cmd: { execute: string; arguments?: unknown; id?: unknown }, send: (o: unknown) => void) => void;

/** A fake QEMU monitor speaking QMP's wire format (objects terminated by \r\n). */
function fakeQmp(path: string, handle: Handler): Server {
  return createServer((s: Socket) => {
    const send = (o: unknown): void => void s.write(`${JSON.stringify(o)}\r\n`);
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'test' }, capabilities: ['oob'] } });
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') send({ return: {}, id: cmd.id });
        else handle(cmd, send);
      }
    });
    s.on('error', () => {});
  }).listen(path);
}

describe('QMP client', () => {
  let dir: string;
  let server: Server | undefined;
  let client: QmpClient | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-qmp-'));
  });
  afterEach(() => {
    client?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates, then matches replies by id with events in between', async () => {
    const path = join(dir, 'qmp.sock');
    server = fakeQmp(path, (cmd, send) => {
      if (cmd.execute === 'query-status') {
        send({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 2 } });
        send({ id: cmd.id, return: { running: true, singlestep: false, status: 'running' } });
      }
    });
    await new Promise((r) => server?.once('listening', r));
    client = await QmpClient.connect(path);
    assert.deepEqual(client.version, { major: 7, minor: 2, micro: 22 });
    const events: QmpEvent[] = [];
    client.on('event', (e: QmpEvent) => events.push(e));
    assert.deepEqual(await client.execute('query-status'), { running: true, singlestep: false, status: 'running' });
    assert.deepEqual(
      events.map((e) => e.event),
      ['RESUME'],
    );
  });

  it('rejects on an error reply with its class, and on silence', async () => {
    const path = join(dir, 'qmp.sock');
    server = fakeQmp(path, (cmd, send) => {
      if (cmd.execute === 'device_del') send({ id: cmd.id, error: { class: 'DeviceNotFound', desc: "Device 'x' not found" } });
    });
    await new Promise((r) => server?.once('listening', r));
    client = await QmpClient.connect(path);
    await assert.rejects(client.execute('device_del', { id: 'x' }), { code: 'ERR_QMP', message: /device_del: DeviceNotFound: Device 'x' not found/ });
    await assert.rejects(client.execute('query-kvm', undefined, 50), { code: 'ERR_QMP', message: /no reply within 50 ms/ });
  });

  it('fails pending commands when QEMU goes away', async () => {
    const path = join(dir, 'qmp.sock');
    const sockets: Socket[] = [];
    server = fakeQmp(path, () => sockets.forEach((s) => s.destroy()));
    server.on('connection', (s: Socket) => sockets.push(s));
    await new Promise((r) => server?.once('listening', r));
    client = await QmpClient.connect(path);
    await assert.rejects(client.execute('quit'), { code: 'ERR_QMP', message: /connection closed/ });
  });
});
