import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AgentServiceClient, agentWire } from '@mayu/protocol';
import pino from 'pino';
import { AgentServer } from '../../src/server/agent-server.js';

function call<Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

describe('agent service (in process, over an injected connection)', () => {
  let dir: string;
  let listener: Server;
  let client: AgentServiceClient;
  let server: AgentServer;
  const state = {
    boot: { initStartMs: 10, agentProcessStartMs: 20, agentMainMs: 30, agentListeningMs: 40 },
    channels: ['serial://agent.channel.0'],
    shuttingDown: false,
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-agent-'));
    server = new AgentServer(pino({ level: 'silent' }), state);
    listener = createServer((socket) => server.serve(socket));
    await new Promise<void>((r) => listener.listen(join(dir, 'agent.sock'), r));
    client = new AgentServiceClient(`unix://${join(dir, 'agent.sock')}`, credentials.createInsecure());
  });

  after(async () => {
    client.close();
    listener.close();
    await server.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers Check with SERVING', async () => {
    const res = await call<agentWire.CheckResponse>((cb) => client.check({ service: '' }, cb));
    assert.equal(res.status, agentWire.CheckResponse_ServingStatus.SERVING_STATUS_SERVING);
  });

  it('reports details with the boot timestamps it was given', async () => {
    const res = await call<agentWire.GuestDetails>((cb) => client.getGuestDetails({}, cb));
    assert.deepEqual(res.boot, state.boot);
    assert.deepEqual(res.channels, state.channels);
    assert.ok(res.kernelRelease.length > 0);
  });

  it('answers UNIMPLEMENTED, naming the method, for what it does not do', async () => {
    // Outside a guest (no mayu-init) the agent has no container manager; networking is later work.
    for (const [name, fn] of [
      [
        'CreateContainer',
        (cb: (e: ServiceError | null, r: unknown) => void) =>
          client.createContainer({ containerId: 'c1', execId: '', ociSpecJson: Buffer.alloc(0), storages: [], devices: [], stdio: undefined, shareNamespaces: undefined }, cb),
      ],
      ['UpdateInterface', (cb: (e: ServiceError | null, r: unknown) => void) => client.updateInterface({ interface: undefined }, cb)],
    ] as const) {
      const err = await call(fn).catch((e: ServiceError) => e);
      assert.equal((err as ServiceError).code, status.UNIMPLEMENTED, name);
      assert.match((err as ServiceError).details, new RegExp(`mayu.agent.v1.AgentService/${name}`));
    }
  });

  it('says NOT_SERVING while shutting down', async () => {
    state.shuttingDown = true;
    try {
      const res = await call<agentWire.CheckResponse>((cb) => client.check({ service: '' }, new Metadata(), cb));
      assert.equal(res.status, agentWire.CheckResponse_ServingStatus.SERVING_STATUS_NOT_SERVING);
    } finally {
      state.shuttingDown = false;
    }
  });
});
