import { PassThrough, Duplex } from 'node:stream';
import { agentWire, GuestChannel, HostChannel, type SessionStream } from '@mayu/protocol';
import { createAgentLogger } from '../logging/logger.js';
import { grpcUnary } from '../selftest/grpc-unary.js';
import { AgentServer } from '../server/agent-server.js';
import { validateSpec } from '../oci/validate-spec.js';

/** An in-memory byte link: what one side writes, the other reads. */
function link(): [Duplex, Duplex] {
  const up = new PassThrough();
  const down = new PassThrough();
  return [Duplex.from({ readable: down, writable: up }), Duplex.from({ readable: up, writable: down })];
}

/**
 * Runs the agent's start-up and request path once, entirely in memory (no
 * device, no vsock, no mount), so that the image build can record a V8 code
 * cache of every function that path compiles. Loaded from that cache, the
 * agent in a TCG guest skips most of its JavaScript compilation.
 */
export async function warmUp(): Promise<void> {
  const { log, close } = createAgentLogger('info', '/dev/null');
  const server = new AgentServer(log, {
    boot: { initStartMs: 0, agentProcessStartMs: 0, agentMainMs: 0, agentListeningMs: 0 },
    channels: [],
    shuttingDown: false,
  });
  const [hostEnd, guestEnd] = link();
  const guest = new GuestChannel();
  guest.on('session', (s: SessionStream) => server.serve(s));
  guest.attach(guestEnd);
  const host = new HostChannel(hostEnd);
  for (const path of ['Check', 'GetGuestDetails']) {
    const session = await host.openSession(5000);
    const request = path === 'Check' ? agentWire.CheckRequest.encode({ service: '' }).finish() : agentWire.GetGuestDetailsRequest.encode({}).finish();
    const reply = await grpcUnary(session, `/mayu.agent.v1.AgentService/${path}`, request);
    if (path === 'Check') agentWire.CheckResponse.decode(reply);
    else agentWire.GuestDetails.decode(reply);
  }
  // The OCI spec validators, on a valid spec and a bad one.
  const spec = { ociVersion: '1.0.2', process: { args: ['sh'], cwd: '/', env: ['A=b'], user: { uid: 0, gid: 0 } }, root: { path: '/run/mayu/x' }, linux: { namespaces: [{ type: 'pid' }] } };
  validateSpec(spec);
  try {
    validateSpec({ ...spec, hooks: {}, process: { args: [] } });
  } catch {
    // expected
  }
  log.info({ event: 'agent.warmup' }, 'warm-up done');
  host.close();
  await server.shutdown(100);
  close();
}
