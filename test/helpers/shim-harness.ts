/**
 * The shim's Task service — the real TaskService, served over ttrpc as
 * `containerd-shim-mayu-v2 serve` does — with a fake hypervisor whose guest
 * is the agent at $HARNESS_AGENT (a FakeAgent in the test process). Run
 * as its own process, so that a test can measure what a hostile guest does
 * to the shim's memory.
 *
 * Environment: HARNESS_SOCKET (where to serve), HARNESS_AGENT (agent
 * endpoint), HARNESS_CONFIG (configuration TOML file), HARNESS_BUNDLE (the
 * sandbox's bundle), HARNESS_EVENTS (containerd's Events service address),
 * HARNESS_FAIL_CREATE / HARNESS_FAIL_START (how many sandboxes fail to be
 * made, then how many VMs fail to start, before one works), HARNESS_LOG_FLOOD
 * (bytes of garbage the "guest" writes to its log console).
 */
import { Readable } from 'node:stream';
import { taskWire } from '@mayu/protocol';
import { loadConfig, Sandbox } from '@mayu/runtime';
import { EventPublisher, shimServerOptions, TaskService } from '@mayu/shim';
import { TtrpcServer } from '@mayu/ttrpc';
import pino from 'pino';
import { fakeHypervisors } from '@mayu/runtime/testing';

const env = (k: string): string => process.env[k] ?? '';
const log = pino({ name: 'shim-harness', level: 'warn' }, pino.destination({ dest: `${env('HARNESS_BUNDLE')}/harness.log`, sync: true }));
const { factory } = fakeHypervisors(env('HARNESS_AGENT'), { failCreate: Number(env('HARNESS_FAIL_CREATE') || 0), failStart: Number(env('HARNESS_FAIL_START') || 0) });
const floodBytes = Number(env('HARNESS_LOG_FLOOD') || 0);

/** A guest log console that writes `bytes` of junk: long lines, fake levels, invalid UTF-8. */
function logFlood(bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const junk = Buffer.concat([Buffer.from(`{"level":60,"msg":"${'A'.repeat(2000)}","time":1}\n`), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a]), Buffer.alloc(40_000, 0x41), Buffer.from('\n')]);
      sent += junk.length;
      this.push(junk);
    },
  });
}

const events = new EventPublisher(env('HARNESS_EVENTS'), 'default', log);
const tasks = new TaskService({
  groupId: 'hostile-pod',
  bundle: env('HARNESS_BUNDLE'),
  namespace: 'default',
  config: loadConfig(env('HARNESS_CONFIG')),
  log,
  vmLog: log,
  events,
  onShutdown: () => process.exit(0),
  createSandbox: (o) =>
    Sandbox.create({
      ...o,
      hypervisor: (ctx) => {
        const h = factory(ctx);
        if (floodBytes > 0) setImmediate(() => ctx.onGuestLog(logFlood(floodBytes)));
        return h;
      },
    }),
});
// The shim's own server options: its status mapping (MayuError codes), peer check and bounds.
const server = new TtrpcServer(shimServerOptions(log));
server.addService(taskWire.TaskDefinition, tasks.implementation());
await server.listen(env('HARNESS_SOCKET'));
process.on('SIGTERM', () => void tasks.close().finally(() => process.exit(0)));
process.send?.('ready');
