import { status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  AgentServiceService,
  agentWire,
  containerStatsToWire,
  createContainerFromWire,
  createSandboxFromWire,
  execProcessFromWire,
  exitStatusToWire,
  guestDetailsToWire,
  interfaceFromWire,
  interfaceToWire,
  neighborFromWire,
  routeFromWire,
  routeToWire,
  MayuError,
  servingStatusToWire,
  toServiceError,
  type AgentServiceServer,
  type BootTimestamps,
} from '@mayu/protocol';
import type { Logger } from 'pino';
import { uptimeMs } from '../boot/uptime.js';
import type { ContainerManager } from '../container/container-manager.js';
import type { NetworkManager } from '../network/network-manager.js';
import { servePortForward, type PortForwardCall } from '../network/port-forward.js';
import type { GuestIdentity } from '../system/guest-identity.js';
import type { GuestResources } from '../system/guest-resources.js';
import { guestMetrics } from '../stats/metrics.js';
import { collectGuestDetails } from './guest-details.js';

/** What the service needs to know about the agent it runs in. */
export interface AgentState {
  boot: BootTimestamps;
  channels: string[];
  shuttingDown: boolean;
}

type Handler<Req, Res> = (request: Req) => Promise<Res> | Res;

/** Adapts an async handler to grpc-js, mapping mayu errors to status codes. */
function unary<Req, Res>(log: Logger, method: string, handler: Handler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const startedAt = uptimeMs();
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => {
          log.debug({ method, uptimeMs: startedAt, durationMs: uptimeMs() - startedAt }, 'rpc');
          callback(null, response);
        },
        (err: unknown) => {
          // The caller's mistakes are the caller's to report; the agent's own failures are warnings.
          const internal = !(err instanceof MayuError) || err.code === 'ERR_INTERNAL';
          log[internal ? 'warn' : 'info']({ err, method }, 'rpc failed');
          callback(toServiceError(err));
        },
      );
  };
}

const EMPTY = {};

/** The container half of the API, over the container manager. */
function containerMethods(log: Logger, c: ContainerManager): Partial<AgentServiceServer> {
  const ref = (r: { containerId: string; execId: string }) => ({ containerId: r.containerId, execId: r.execId });
  return {
    createSandbox: unary(log, 'CreateSandbox', (r: agentWire.CreateSandboxRequest) => (c.createSandbox(createSandboxFromWire(r)), EMPTY)),
    destroySandbox: unary(log, 'DestroySandbox', async () => (await c.destroySandbox(), EMPTY)),
    createContainer: unary(log, 'CreateContainer', async (r: agentWire.CreateContainerRequest) => (await c.createContainer(createContainerFromWire(r)), EMPTY)),
    startContainer: unary(log, 'StartContainer', async (r: agentWire.StartContainerRequest) => (await c.startContainer(r.containerId), EMPTY)),
    removeContainer: unary(log, 'RemoveContainer', async (r: agentWire.RemoveContainerRequest) => (await c.removeContainer(r.containerId, r.timeoutMs), EMPTY)),
    updateContainer: unary(log, 'UpdateContainer', async (r: agentWire.UpdateContainerRequest) => {
      let resources: unknown;
      try {
        resources = JSON.parse(Buffer.from(r.resourcesJson).toString('utf8'));
      } catch (err) {
        throw new MayuError('ERR_INVALID_ARGUMENT', `resources_json: not valid JSON (${(err as Error).message})`);
      }
      await c.update(r.containerId, resources);
      return EMPTY;
    }),
    pauseContainer: unary(log, 'PauseContainer', async (r: agentWire.PauseContainerRequest) => (await c.pause(r.containerId), EMPTY)),
    resumeContainer: unary(log, 'ResumeContainer', async (r: agentWire.ResumeContainerRequest) => (await c.resume(r.containerId), EMPTY)),
    statsContainer: unary(log, 'StatsContainer', (r: agentWire.StatsContainerRequest) => containerStatsToWire(c.stats(r.containerId))),
    listProcesses: unary(log, 'ListProcesses', (r: agentWire.ListProcessesRequest) => ({ processes: c.listProcesses(r.containerId) })),
    execProcess: unary(log, 'ExecProcess', async (r: agentWire.ExecProcessRequest) => (await c.execProcess(execProcessFromWire(r)), EMPTY)),
    signalProcess: unary(log, 'SignalProcess', async (r: agentWire.SignalProcessRequest) => (await c.signalProcess(ref(r), r.signal, r.all), EMPTY)),
    waitProcess: unary(log, 'WaitProcess', async (r: agentWire.WaitProcessRequest) => exitStatusToWire(await c.waitProcess(ref(r)))),
    writeStdin: unary(log, 'WriteStdin', async (r: agentWire.WriteStreamRequest) => ({ len: await c.writeStdin(ref(r), Buffer.from(r.data)) })),
    readStdout: unary(log, 'ReadStdout', async (r: agentWire.ReadStreamRequest) => ({ data: await c.readOutput(ref(r), 'stdout', r.len) })),
    readStderr: unary(log, 'ReadStderr', async (r: agentWire.ReadStreamRequest) => ({ data: await c.readOutput(ref(r), 'stderr', r.len) })),
    closeStdin: unary(log, 'CloseStdin', (r: agentWire.CloseStdinRequest) => (c.closeStdin(ref(r)), EMPTY)),
    ttyWinResize: unary(log, 'TtyWinResize', (r: agentWire.TtyWinResizeRequest) => (c.resize(ref(r), r.rows, r.columns), EMPTY)),
    getOomEvent: unary(log, 'GetOOMEvent', async () => ({ containerId: await c.nextOomEvent() })),
  };
}

/** The network half of the API: the pod's interfaces, routes and neighbours, checked field by field. */
function networkMethods(log: Logger, n: NetworkManager): Partial<AgentServiceServer> {
  return {
    updateInterface: unary(log, 'UpdateInterface', (r: agentWire.UpdateInterfaceRequest) => {
      if (!r.interface) throw new MayuError('ERR_INVALID_ARGUMENT', 'interface: missing');
      return interfaceToWire(n.updateInterface(interfaceFromWire(r.interface)));
    }),
    updateRoutes: unary(log, 'UpdateRoutes', (r: agentWire.UpdateRoutesRequest) => ({
      routes: n.updateRoutes((r.routes?.routes ?? []).map((x, i) => routeFromWire(x, `routes[${i}]`))).map(routeToWire),
    })),
    addArpNeighbors: unary(log, 'AddARPNeighbors', (r: agentWire.AddARPNeighborsRequest) => (n.addNeighbors(r.neighbors.map((x, i) => neighborFromWire(x, `neighbors[${i}]`))), EMPTY)),
    listInterfaces: unary(log, 'ListInterfaces', () => ({ interfaces: n.listInterfaces().map(interfaceToWire) })),
    listRoutes: unary(log, 'ListRoutes', () => ({ routes: n.listRoutes().map(routeToWire) })),
    portForward: (call: PortForwardCall) => servePortForward(call, log),
  };
}

/** A restored VM's own clock and randomness (see GuestIdentity). */
function identityMethods(log: Logger, g: GuestIdentity): Partial<AgentServiceServer> {
  return {
    setGuestDateTime: unary(log, 'SetGuestDateTime', (r: agentWire.SetGuestDateTimeRequest) => (g.setClock(r.seconds, r.nanos), EMPTY)),
    reseedRandom: unary(log, 'ReseedRandom', (r: agentWire.ReseedRandomRequest) => (g.reseedRandom(Buffer.from(r.entropy)), EMPTY)),
  };
}

/** A VM that grows: the guest takes the vCPUs and memory the host gave it (see GuestResources). */
function resourceMethods(log: Logger, r: GuestResources): Partial<AgentServiceServer> {
  return {
    resizeGuest: unary(log, 'ResizeGuest', (q: agentWire.ResizeGuestRequest) => r.resize({ vcpus: q.vcpus, addedMemoryBytes: Number(q.addedMemoryBytes), timeoutMs: q.timeoutMs })),
  };
}

/** The agent API over the container and network managers; methods not listed answer UNIMPLEMENTED. */
export function createAgentService(
  log: Logger,
  state: AgentState,
  containers: ContainerManager | null,
  network: NetworkManager | null = null,
  identity: GuestIdentity | null = null,
  resources: GuestResources | null = null,
): UntypedServiceImplementation {
  const health: Partial<AgentServiceServer> = {
    check: unary(log, 'Check', () => ({ status: servingStatusToWire(state.shuttingDown ? 'not-serving' : 'serving') })),
    getGuestDetails: unary(log, 'GetGuestDetails', () => guestDetailsToWire(collectGuestDetails(state.boot, state.channels))),
    getMetrics: unary(log, 'GetMetrics', () => ({ text: guestMetrics(containers?.count ?? 0) })),
  };
  const containerApi = containers ? containerMethods(log, containers) : {};
  const implemented: Partial<AgentServiceServer> = {
    ...health,
    ...containerApi,
    ...(network ? networkMethods(log, network) : {}),
    ...(identity ? identityMethods(log, identity) : {}),
    ...(resources ? resourceMethods(log, resources) : {}),
  };
  const service: UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(AgentServiceService)) {
    service[name] =
      implemented[name as keyof AgentServiceServer] ??
      (def.requestStream || def.responseStream
        ? (call: { emit(event: 'error', err: object): void }) => call.emit('error', { code: status.UNIMPLEMENTED, details: `${def.path} is not implemented by this agent` })
        : (_call: unknown, callback: sendUnaryData<unknown>) => callback({ code: status.UNIMPLEMENTED, details: `${def.path} is not implemented by this agent` }));
  }
  return service;
}
