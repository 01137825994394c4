import type { Logger } from 'pino';
import { parseAgentOptions, type AgentOptions } from './boot/options.js';
import { processStartUptimeMs, uptimeMs } from './boot/uptime.js';
import { findSerialPort, SerialPortListener } from './channel/serial-port.js';
import { VsockListener } from './channel/vsock-listener.js';
import { createAgentLogger } from './logging/logger.js';
import { runVsockSelftest } from './selftest/vsock-selftest.js';
import { AgentServer } from './server/agent-server.js';
import type { AgentState } from './service/agent-service.js';
import { mountSystem } from './system/mounts.js';
import { watchPowerButton } from './system/power-button.js';
import { setUpCgroups } from './system/cgroups.js';
import { ContainerManager } from './container/container-manager.js';
import { ExitReports } from './container/exit-reports.js';
import { NetworkManager } from './network/network-manager.js';
import { GuestIdentity } from './system/guest-identity.js';
import { GuestResources } from './system/guest-resources.js';
import { sys } from './system/sys.js';

/** How long in-flight calls may run once a shutdown begins. */
const SHUTDOWN_GRACE_MS = 2000;

/** True when mayu-init started us as the guest's agent (not a developer on a host). */
function inGuest(): boolean {
  return process.env.MAYU_INIT_START_MS !== undefined;
}

function setUpGuest(log: Logger, options: AgentOptions): void {
  mountSystem(log);
  setUpCgroups(log);
  try {
    sys().sethostname(options.hostname);
  } catch (err) {
    log.warn({ err }, 'cannot set the hostname');
  }
}

/**
 * The agent: sets up the guest, then serves the agent API on every channel
 * the guest has (a virtio-serial port, vsock) until the host powers it off.
 */
export async function agentMain(args: string[], agentMainMs: number): Promise<void> {
  const { options, warnings } = parseAgentOptions(args);
  const { log } = createAgentLogger(options.logLevel, options.logDevice);
  for (const warning of warnings) log.warn(warning);
  // An agent that cannot go on says why on both channels, then exits: init powers the VM off.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.stderr.write(`mayu-agent: uncaught exception: ${err.stack ?? String(err)}\n`);
    process.exit(70);
  });
  if (inGuest()) setUpGuest(log, options);

  const state: AgentState = {
    boot: {
      initStartMs: Number(process.env.MAYU_INIT_START_MS ?? 0),
      agentProcessStartMs: processStartUptimeMs(),
      agentMainMs,
      agentListeningMs: 0,
    },
    channels: [],
    shuttingDown: false,
  };
  const exits = new ExitReports();
  const containers = inGuest() && exits.attachInitPipe() ? new ContainerManager(log.child({ subsystem: 'containers' }), exits) : null;
  const network = inGuest() ? new NetworkManager(log.child({ subsystem: 'network' })) : null;
  try {
    network?.loopbackUp();
  } catch (err) {
    log.warn({ err }, 'cannot bring the loopback interface up');
  }
  const identity = inGuest() ? new GuestIdentity(log.child({ subsystem: 'identity' })) : null;
  const resources = inGuest() ? new GuestResources(log.child({ subsystem: 'resources' })) : null;
  const server = new AgentServer(log, state, containers, network, identity, resources);
  const stops: (() => void)[] = [];

  const device = findSerialPort(options.serialPort);
  if (device) {
    const listener = new SerialPortListener(device, log.child({ subsystem: 'serial' }), (s) => server.serve(s));
    listener.start();
    stops.push(() => listener.stop());
    state.channels.push(`serial://${options.serialPort}`);
  }
  const vsock = new VsockListener(options.vsockPort, log.child({ subsystem: 'vsock' }), (s) => server.serve(s));
  if (vsock.start()) {
    stops.push(() => vsock.stop());
    state.channels.push(`vsock://-1:${options.vsockPort}`);
  }
  state.boot.agentListeningMs = uptimeMs();
  if (state.channels.length === 0) log.error({ serialPort: options.serialPort }, 'no channel to serve on');
  const codeCache = (globalThis as { __mayuCodeCache?: string }).__mayuCodeCache ?? 'none';
  log.info({ event: 'agent.ready', boot: state.boot, channels: state.channels, codeCache }, 'agent ready');

  const shutdown = async (reason: string): Promise<void> => {
    if (state.shuttingDown) return;
    state.shuttingDown = true;
    log.info({ event: 'agent.shutdown', reason }, 'shutting down');
    await server.shutdown(SHUTDOWN_GRACE_MS);
    await containers?.destroySandbox().catch((err: unknown) => log.warn({ err }, 'removing containers failed'));
    for (const stop of stops) stop();
    if (inGuest()) sys().sync();
    // mayu-init powers the VM off once the agent has exited.
    process.exit(0);
  };
  stops.push(watchPowerButton(log, () => void shutdown('power button')));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  if (options.selftest === 'vsock') {
    const result = await runVsockSelftest(options.vsockPort);
    process.stdout.write(`mayu-selftest ${JSON.stringify(result)}\n`);
  } else if (options.selftest) {
    process.stdout.write(`mayu-selftest ${JSON.stringify({ name: options.selftest, passed: [], failed: [{ test: 'select', error: 'unknown self-test' }] })}\n`);
  }
}
