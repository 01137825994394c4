import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentWire } from '@mayu/protocol';
import { pino } from 'pino';
import { AgentClient } from '../../src/agent/agent-client.js';
import { PortForwarder } from '../../src/network/port-forward.js';
import { FakeAgent } from '../../src/testing/index.js';

const encode = (m: agentWire.PortForwardMessage): Buffer => Buffer.from(agentWire.PortForwardMessage.encode(m).finish());
const decode = (b: Buffer): agentWire.PortForwardMessage => agentWire.PortForwardMessage.decode(b);

/**
 * Dials 127.0.0.1:port inside the namespace, as containerd does for CRI
 * PortForward (a node child there), sends `text`, half-closes, and prints
 * what came back; exit 3 when the connection could not be made.
 */
function dialInNamespace(ns: string, port: number, text: string): Promise<{ code: number | null; out: string }> {
  const script = `const s=require('net').connect(${port},'127.0.0.1',()=>s.end(${JSON.stringify(text)}));let o='';s.on('data',d=>o+=d);s.on('error',e=>{process.stdout.write('error '+e.code);process.exit(3)});s.on('close',()=>{process.stdout.write(o);process.exit(0)});`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

// Root, a network namespace of the test's own, a fake agent: the host side of port-forward without a VM.
describe('port-forward on the host: a redirect in the pod namespace to a listener that asks the agent', () => {
  const ns = `mayu-pf-${randomBytes(3).toString('hex')}`;
  let dir: string;
  let agent: FakeAgent;
  let client: AgentClient;
  let forwarder: PortForwarder | null = null;
  const nat = (): string => execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '5', '-t', 'nat', '-S', 'OUTPUT'], { encoding: 'utf8' });

  beforeEach(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    dir = mkdtempSync('/run/mayu-unit-pf-');
    agent = await FakeAgent.start(dir);
    client = await AgentClient.open({ endpoint: agent.endpoint, bridgeSocket: join(dir, 'bridge.sock'), dialTimeoutMs: 5000, callTimeoutMs: 1500, log: pino({ level: 'silent' }) });
  });
  afterEach(async () => {
    await forwarder?.close();
    forwarder = null;
    client.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it('carries a connection to any loopback port in the namespace to that port in the guest, both ways; close() removes the redirect', async () => {
    const opened: number[] = [];
    // An honest agent: connected, then an echo that names the port.
    agent.streams.PortForward = (call) => {
      let port = 0;
      call.on('data', (b: Buffer) => {
        const m = decode(b);
        if (m.kind?.$case === 'open') {
          port = m.kind.open.port;
          opened.push(port);
          call.write(encode({ kind: { $case: 'connected', connected: { address: '127.0.0.1' } } }));
        } else if (m.kind?.$case === 'data') {
          call.write(encode({ kind: { $case: 'data', data: Buffer.from(`port ${port}: ${m.kind.data.toString()}`) } }));
        }
      });
      call.on('end', () => call.end());
    };
    forwarder = await PortForwarder.start(`/run/netns/${ns}`, client, pino({ level: 'silent' }));
    assert.match(nat(), /-A OUTPUT -d 127\.0\.0\.1\/32 -o lo -p tcp -m tcp ! --dport \d+ -m comment --comment "mayu port-forward" -j REDIRECT --to-ports \d+/);
    assert.deepEqual(await dialInNamespace(ns, 4242, 'hello'), { code: 0, out: 'port 4242: hello' });
    assert.deepEqual(await dialInNamespace(ns, 80, 'again'), { code: 0, out: 'port 80: again' });
    assert.deepEqual(opened, [4242, 80]);
    await forwarder.close();
    forwarder = null;
    assert.doesNotMatch(nat(), /mayu port-forward/, 'the redirect is gone');
    assert.deepEqual((await dialInNamespace(ns, 4242, 'x')).code, 3, 'and nothing listens any more');
  });

  /**
   * Closed with nothing forwarded: an orderly end, or a reset when the host
   * closed before reading what the dialer had sent (a matter of timing).
   */
  const closedEmpty = (r: { code: number | null; out: string }): void =>
    assert.ok((r.code === 0 && r.out === '') || (r.code === 3 && r.out === 'error ECONNRESET'), `closed with nothing forwarded: ${JSON.stringify(r)}`);

  it('a guest that refuses, stalls, or answers out of turn gets the connection closed, with nothing forwarded', async () => {
    forwarder = await PortForwarder.start(`/run/netns/${ns}`, client, pino({ level: 'silent' }));
    // Nothing listens in the guest.
    agent.streams.PortForward = (call) => call.once('data', () => call.emit('error', { code: 14, details: 'nothing in the pod accepts connections on port 9' }));
    closedEmpty(await dialInNamespace(ns, 9, 'x'));
    // Never answers: closed after the call timeout (1.5 s here).
    agent.streams.PortForward = () => {};
    const started = Date.now();
    closedEmpty(await dialInNamespace(ns, 9, 'x'));
    assert.ok(Date.now() - started >= 1400, 'the host waited for the call timeout');
    // The dialer resets its connection while the guest is being asked: nothing breaks on the host.
    agent.streams.PortForward = (call) => call.once('data', () => setTimeout(() => call.write(encode({ kind: { $case: 'connected', connected: { address: '127.0.0.1' } } })), 300));
    const reset = `const s=require('net').connect(${9},'127.0.0.1',()=>{s.resetAndDestroy();process.exit(0)});`;
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', reset], { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    // Data before `connected`.
    agent.streams.PortForward = (call) => call.once('data', () => call.write(encode({ kind: { $case: 'data', data: Buffer.from('unasked') } })));
    closedEmpty(await dialInNamespace(ns, 9, 'x'));
  });
});
