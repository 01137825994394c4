import { randomBytes } from 'node:crypto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { criWire } from '@mayu/protocol';
import { EXAMPLE_IMAGE } from './containerd.js';

type UnaryCall<Req, Res> = (request: Req, metadata: Metadata, options: { deadline: number }, callback: (err: ServiceError | null, response: Res) => void) => unknown;

/** Promisifies one method of a grpc-js client, with a deadline. */
function call<Req, Res>(client: object, method: string, timeoutMs: number): (request: Req) => Promise<Res> {
  return (request) =>
    new Promise((resolve, reject) => {
      const fn = (client as Record<string, UnaryCall<Req, Res>>)[method];
      fn.call(client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
}

/**
 * A small CRI client, as kubelet talks to containerd: the runtime and image
 * services over the containerd socket, with our own proto of the CRI subset.
 */
export class CriClient {
  private readonly runtime: criWire.RuntimeServiceClient;
  private readonly images: criWire.ImageServiceClient;

  constructor(
    socket: string,
    private readonly timeoutMs = 180_000,
  ) {
    this.runtime = new criWire.RuntimeServiceClient(`unix://${socket}`, credentials.createInsecure());
    this.images = new criWire.ImageServiceClient(`unix://${socket}`, credentials.createInsecure());
  }

  private r<Req, Res>(method: string): (request: Req) => Promise<Res> {
    return call<Req, Res>(this.runtime, method, this.timeoutMs);
  }

  version = (r: criWire.VersionRequest): Promise<criWire.VersionResponse> => this.r<criWire.VersionRequest, criWire.VersionResponse>('version')(r);
  runPodSandbox = (r: criWire.RunPodSandboxRequest): Promise<criWire.RunPodSandboxResponse> => this.r<criWire.RunPodSandboxRequest, criWire.RunPodSandboxResponse>('runPodSandbox')(r);
  podSandboxStatus = (r: criWire.PodSandboxStatusRequest): Promise<criWire.PodSandboxStatusResponse> =>
    this.r<criWire.PodSandboxStatusRequest, criWire.PodSandboxStatusResponse>('podSandboxStatus')(r);
  listPodSandbox = (r: criWire.ListPodSandboxRequest): Promise<criWire.ListPodSandboxResponse> => this.r<criWire.ListPodSandboxRequest, criWire.ListPodSandboxResponse>('listPodSandbox')(r);
  stopPodSandbox = (r: criWire.StopPodSandboxRequest): Promise<criWire.StopPodSandboxResponse> => this.r<criWire.StopPodSandboxRequest, criWire.StopPodSandboxResponse>('stopPodSandbox')(r);
  removePodSandbox = (r: criWire.RemovePodSandboxRequest): Promise<criWire.RemovePodSandboxResponse> =>
    this.r<criWire.RemovePodSandboxRequest, criWire.RemovePodSandboxResponse>('removePodSandbox')(r);
  createContainer = (r: criWire.CreateContainerRequest): Promise<criWire.CreateContainerResponse> => this.r<criWire.CreateContainerRequest, criWire.CreateContainerResponse>('createContainer')(r);
  startContainer = (r: criWire.StartContainerRequest): Promise<criWire.StartContainerResponse> => this.r<criWire.StartContainerRequest, criWire.StartContainerResponse>('startContainer')(r);
  containerStatus = (r: criWire.ContainerStatusRequest): Promise<criWire.ContainerStatusResponse> => this.r<criWire.ContainerStatusRequest, criWire.ContainerStatusResponse>('containerStatus')(r);
  updateContainerResources = (r: criWire.UpdateContainerResourcesRequest): Promise<criWire.UpdateContainerResourcesResponse> =>
    this.r<criWire.UpdateContainerResourcesRequest, criWire.UpdateContainerResourcesResponse>('updateContainerResources')(r);
  execSync = (r: criWire.ExecSyncRequest): Promise<criWire.ExecSyncResponse> => this.r<criWire.ExecSyncRequest, criWire.ExecSyncResponse>('execSync')(r);
  stopContainer = (r: criWire.StopContainerRequest): Promise<criWire.StopContainerResponse> => this.r<criWire.StopContainerRequest, criWire.StopContainerResponse>('stopContainer')(r);
  removeContainer = (r: criWire.RemoveContainerRequest): Promise<criWire.RemoveContainerResponse> => this.r<criWire.RemoveContainerRequest, criWire.RemoveContainerResponse>('removeContainer')(r);
  exec = (r: criWire.ExecRequest): Promise<criWire.ExecResponse> => this.r<criWire.ExecRequest, criWire.ExecResponse>('exec')(r);
  attach = (r: criWire.AttachRequest): Promise<criWire.AttachResponse> => this.r<criWire.AttachRequest, criWire.AttachResponse>('attach')(r);
  portForward = (r: criWire.PortForwardRequest): Promise<criWire.PortForwardResponse> => this.r<criWire.PortForwardRequest, criWire.PortForwardResponse>('portForward')(r);
  containerStats = (r: criWire.ContainerStatsRequest): Promise<criWire.ContainerStatsResponse> => this.r<criWire.ContainerStatsRequest, criWire.ContainerStatsResponse>('containerStats')(r);
  listContainerStats = (r: criWire.ListContainerStatsRequest): Promise<criWire.ListContainerStatsResponse> =>
    this.r<criWire.ListContainerStatsRequest, criWire.ListContainerStatsResponse>('listContainerStats')(r);
  podSandboxStats = (r: criWire.PodSandboxStatsRequest): Promise<criWire.PodSandboxStatsResponse> => this.r<criWire.PodSandboxStatsRequest, criWire.PodSandboxStatsResponse>('podSandboxStats')(r);
  listPodSandboxStats = (r: criWire.ListPodSandboxStatsRequest): Promise<criWire.ListPodSandboxStatsResponse> =>
    this.r<criWire.ListPodSandboxStatsRequest, criWire.ListPodSandboxStatsResponse>('listPodSandboxStats')(r);
  imageStatus = (r: criWire.ImageStatusRequest): Promise<criWire.ImageStatusResponse> => call<criWire.ImageStatusRequest, criWire.ImageStatusResponse>(this.images, 'imageStatus', this.timeoutMs)(r);

  close(): void {
    this.runtime.close();
    this.images.close();
  }
}

/** A pod's sandbox config as kubelet writes one: a fresh uid, the hostname, logs under `logDirectory`; `over` for the rest. */
export function podSandboxConfig(name: string, logDirectory: string, over: Partial<criWire.PodSandboxConfig> = {}): criWire.PodSandboxConfig {
  return criWire.PodSandboxConfig.fromPartial({
    metadata: { name, uid: `uid-${name}-${randomBytes(3).toString('hex')}`, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory,
    ...over,
  });
}

/** Creates and starts a container of the test image in a pod: `command`, its CRI log `<name>.log`; its id. */
export async function startPodContainer(cri: CriClient, pod: { podSandboxId: string; config: criWire.PodSandboxConfig }, name: string, command: string[]): Promise<string> {
  const { containerId } = await cri.createContainer({
    podSandboxId: pod.podSandboxId,
    config: criWire.ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, image: { image: EXAMPLE_IMAGE }, command, logPath: `${name}.log` }),
    sandboxConfig: pod.config,
  });
  await cri.startContainer({ containerId });
  return containerId;
}

/** A shell script in a container through ExecSync: its exit code, and its stdout then stderr as one text. */
export async function execShell(cri: CriClient, containerId: string, script: string): Promise<{ code: number; out: string }> {
  const r = await cri.execSync({ containerId, cmd: ['sh', '-c', script], timeout: 60n });
  return { code: r.exitCode, out: Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString() };
}

/** Stops and removes pods whatever state they are in (a failed test's), never throwing. */
export async function removePodsQuietly(cri: CriClient, ids: string[]): Promise<void> {
  for (const id of ids)
    await cri
      .stopPodSandbox({ podSandboxId: id })
      .then(() => cri.removePodSandbox({ podSandboxId: id }))
      .catch(() => {});
}
