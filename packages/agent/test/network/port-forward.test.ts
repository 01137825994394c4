import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import { agentWire, AgentServiceClient, AgentServiceService } from '@mayu/protocol';
import { pino } from 'pino';
import { forwardTargets, servePortForward, type PortForwardCall } from '../../src/network/port-forward.js';

type Message = agentWire.PortForwardMessage;

/** Runs one PortForward call: sends `messages` (then ends), and returns what came back and how the call ended. */
function portForward(client: AgentServiceClient, messages: Message[]): Promise<{ replies: Message[]; error: ServiceError | null }> {
  const call = client.portForward(new Metadata(), {});
  const replies: Message[] = [];
  call.on('data', (m: Message) => replies.push(m));
  for (const m of messages) call.write(m);
  call.end();
  return new Promise((resolve) => {
    call.on('error', (error: ServiceError) => resolve({ replies, error }));
    call.on('end', () => resolve({ replies, error: null }));
  });
}

const open = (port: number): Message => ({ kind: { $case: 'open', open: { port } } });
const data = (text: string): Message => ({ kind: { $case: 'data', data: Buffer.from(text) } });

describe('the agent side of port-forward: a TCP connection in the guest over one gRPC stream', () => {
  let dir: string;
  let server: Server;
  let client: AgentServiceClient;
  let echo: NetServer;
  let echoPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-pf-'));
    server = new Server();
    server.addService({ portForward: AgentServiceService.portForward }, { portForward: (call: PortForwardCall) => servePortForward(call, pino({ level: 'silent' }), () => ['127.0.0.1', '::1']) });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${join(dir, 'agent.sock')}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    client = new AgentServiceClient(`unix://${join(dir, 'agent.sock')}`, credentials.createInsecure());
    // Loopback only here (this host's own addresses are not the test's to dial).
    // A server on loopback in "the pod": it answers, then closes after the client's end.
    echo = createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => s.end(`echo: ${got}`));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
  });
  after(() => {
    client.close();
    server.forceShutdown();
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects on loopback first, says where, and carries bytes both ways; the host ending its side ends the connection write side', async () => {
    const r = await portForward(client, [open(echoPort), data('hello '), data('guest')]);
    assert.equal(r.error, null);
    assert.deepEqual(r.replies[0], { kind: { $case: 'connected', connected: { address: '127.0.0.1' } } });
    assert.equal(Buffer.concat(r.replies.slice(1).map((m) => (m.kind?.$case === 'data' ? m.kind.data : Buffer.alloc(0)))).toString(), 'echo: hello guest');
  });

  it('a port nothing listens on is UNAVAILABLE, naming every address tried', async () => {
    echo.close();
    const r = await portForward(client, [open(echoPort)]);
    assert.equal(r.error?.code, 14);
    assert.match(r.error?.details ?? '', new RegExp(`nothing in the pod accepts connections on port ${echoPort}: tried 127\\.0\\.0\\.1 \\(ECONNREFUSED\\), ::1 \\(`));
  });

  it('refuses a first message that is not open, a port out of range, and anything but data after it', async () => {
    for (const first of [data('x'), open(0), open(70000)]) {
      const r = await portForward(client, [first]);
      assert.equal(r.error?.code, 3, JSON.stringify(first));
      assert.match(r.error?.details ?? '', /the first message must be open with a port in 1-65535/);
    }
  });

  it('tries loopback, then the pod addresses (not link-local ones)', () => {
    const targets = forwardTargets({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [
        { address: '10.233.0.7', netmask: '255.255.0.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.233.0.7/16' },
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
      ],
    });
    assert.deepEqual(targets, ['127.0.0.1', '::1', '10.233.0.7']);
  });
});
