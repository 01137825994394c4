import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { AgentServiceService, encodeFrame, FrameType, GuestChannel, servingStatusToWire, type SessionStream } from '@mayu/protocol';
import pino from 'pino';
import { AgentClient } from '../../src/agent/agent-client.js';

/**
 * A stand-in for QEMU's chardev socket in front of a guest agent: one client
 * at a time, and — like QEMU — bytes the guest wrote after a client left are
 * handed to the next client.
 */
function fakeGuest(path: string): { server: Server; leftovers: (b: Buffer) => void; close: () => void } {
  const grpc = new GrpcServer();
  grpc.addService(AgentServiceService, {
    check: (_c: unknown, cb: (e: null, r: unknown) => void) => cb(null, { status: servingStatusToWire('serving') }),
  });
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const guest = new GuestChannel();
  guest.on('session', (s: SessionStream) => injector.injectConnection(s));
  let pending: Buffer[] = [];
  const server = createServer((client: Socket) => {
    for (const b of pending) client.write(b);
    pending = [];
    guest.attach(client);
    client.on('error', () => {});
  }).listen(path);
  return {
    server,
    leftovers: (b) => pending.push(b),
    close: () => {
      guest.detach();
      server.close();
      grpc.forceShutdown();
    },
  };
}

describe('agent client over a serial channel', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-serial-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a new client works after the previous one left, every time, despite stale bytes', async () => {
    const guest = fakeGuest(join(dir, 'agent.sock'));
    try {
      for (let i = 0; i < 5; i++) {
        // What QEMU holds for the next client: the tail of a response and a GOAWAY-like frame of an old session.
        guest.leftovers(Buffer.concat([Buffer.from([0, 0, 8, 7, 0]), encodeFrame(FrameType.Data, 1234 + i, Buffer.from('stale http2 bytes'))]));
        const client = await AgentClient.open({
          endpoint: `serial://${join(dir, 'agent.sock')}`,
          bridgeSocket: join(dir, `bridge-${i}.sock`),
          dialTimeoutMs: 5000,
          callTimeoutMs: 5000,
          log: pino({ level: 'silent' }),
        });
        assert.equal(await client.check(), 'serving', `client ${i}`);
        client.close();
      }
    } finally {
      guest.close();
    }
  });

  it('times out a call when nobody answers on the channel', async () => {
    const silent = createServer(() => {}).listen(join(dir, 'agent.sock'));
    const client = await AgentClient.open({
      endpoint: `serial://${join(dir, 'agent.sock')}`,
      bridgeSocket: join(dir, 'bridge.sock'),
      dialTimeoutMs: 300,
      callTimeoutMs: 300,
      log: pino({ level: 'silent' }),
    });
    try {
      await assert.rejects(client.check(), { code: 'ERR_AGENT_TIMEOUT' });
    } finally {
      client.close();
      silent.close();
    }
  });
});
