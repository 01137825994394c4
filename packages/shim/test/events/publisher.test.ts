import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsServiceWire, eventsWire } from '@mayu/protocol';
import { TtrpcServer } from '@mayu/ttrpc';
import pino from 'pino';
import { EventPublisher } from '../../src/events/publisher.js';

describe('task events to containerd', () => {
  let dir: string;
  let server: TtrpcServer;
  const got: { topic: string; namespace: string; typeUrl: string; metadataNs: string | undefined; id: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-events-'));
    server = new TtrpcServer();
    server.addService(eventsServiceWire.EventsDefinition, {
      forward: async (req, ctx) => {
        const e = req.envelope;
        // Answer out of order: the publisher must still send one at a time, in order.
        await new Promise((r) => setTimeout(r, got.length === 0 ? 50 : 0));
        got.push({
          topic: e?.topic ?? '',
          namespace: e?.namespace ?? '',
          typeUrl: e?.event?.typeUrl ?? '',
          metadataNs: ctx.metadata['containerd-namespace-ttrpc']?.[0],
          id: eventsWire.TaskStart.decode(e?.event?.value ?? new Uint8Array()).containerId,
        });
        return {};
      },
    });
    await server.listen(join(dir, 'events.sock'));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards events in the order they were published, with the namespace and the bare type name', async () => {
    const p = new EventPublisher(join(dir, 'events.sock'), 'k8s.io', pino({ level: 'silent' }));
    const type = { name: 'containerd.events.TaskStart', encode: (m: eventsWire.TaskStart) => eventsWire.TaskStart.encode(m) };
    for (const id of ['a', 'b', 'c']) void p.publish('/tasks/start', type, { containerId: id, pid: 1 });
    await p.flush();
    p.close();
    assert.deepEqual(
      got.map((g) => g.id),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(got[0], { topic: '/tasks/start', namespace: 'k8s.io', typeUrl: 'containerd.events.TaskStart', metadataNs: 'k8s.io', id: 'a' });
  });

  const exitType = { name: 'containerd.events.TaskExit', encode: (m: eventsWire.TaskExit) => eventsWire.TaskExit.encode(m) };

  it('gives up on an unreachable containerd after its retries, without throwing', async () => {
    const p = new EventPublisher(join(dir, 'nobody.sock'), 'default', pino({ level: 'silent' }), [10, 10]);
    const t0 = performance.now();
    await p.publish('/tasks/exit', exitType, eventsWire.TaskExit.fromPartial({ containerId: 'x' }));
    assert.ok(performance.now() - t0 >= 20, 'it retried');
    p.close();
  });

  it('an event published while containerd is down reaches it once it is back (a restarted containerd), once', async () => {
    const late = join(dir, 'late.sock');
    const p = new EventPublisher(late, 'default', pino({ level: 'silent' }), [100, 200, 300]);
    const before = got.length;
    const sent = p.publish('/tasks/exit', exitType, eventsWire.TaskExit.fromPartial({ containerId: 'during-outage' }));
    await new Promise((r) => setTimeout(r, 150));
    const back = new TtrpcServer();
    back.addService(eventsServiceWire.EventsDefinition, {
      forward: async (req) => {
        got.push({ topic: req.envelope?.topic ?? '', namespace: '', typeUrl: '', metadataNs: undefined, id: eventsWire.TaskExit.decode(req.envelope?.event?.value ?? new Uint8Array()).containerId });
        return {};
      },
    });
    await back.listen(late);
    try {
      await sent;
      assert.deepEqual(
        got.slice(before).map((g) => g.id),
        ['during-outage'],
      );
    } finally {
      p.close();
      back.close();
    }
  });
});
