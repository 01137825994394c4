import { request, STATUS_CODES } from 'node:http';
import { MayuError } from '@mayu/protocol';
import { errorBodyText } from './api-error.js';
import type { ConsoleConfig, VmConfig } from './vm-config.js';

/** The endpoints mayu uses (under /api/v1/). */
export type ClhEndpoint = 'vmm.ping' | 'vmm.shutdown' | 'vm.create' | 'vm.boot' | 'vm.info' | 'vm.pause' | 'vm.resume' | 'vm.shutdown' | 'vm.power-button' | 'vm.delete';

export interface VmmPingResponse {
  version: string;
  build_version?: string;
  pid?: number;
  features?: string[];
}

export type VmState = 'Created' | 'Running' | 'Shutdown' | 'Paused' | 'BreakPoint';

export interface VmInfo {
  config: VmConfig & { serial?: ConsoleConfig; console?: ConsoleConfig };
  state: VmState;
  memory_actual_size?: number;
}

/** The most an answer may weigh (vm.info is a few KiB). */
const MAX_RESPONSE_BYTES = 1 << 20;

/**
 * A client of Cloud Hypervisor's REST API on its --api-socket. Every
 * request is one whole body with Content-Length (CH's HTTP server does not
 * decode chunked bodies), on a connection of its own, bounded by
 * `timeoutMs`. A non-2xx answer is ERR_HYPERVISOR naming the endpoint, the
 * status and CH's error text.
 */
export class ClhApi {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {}

  ping(timeoutMs?: number): Promise<VmmPingResponse> {
    return this.call('GET', 'vmm.ping', undefined, timeoutMs) as Promise<VmmPingResponse>;
  }

  info(timeoutMs?: number): Promise<VmInfo> {
    return this.call('GET', 'vm.info', undefined, timeoutMs) as Promise<VmInfo>;
  }

  async create(config: VmConfig): Promise<void> {
    await this.call('PUT', 'vm.create', config);
  }

  /** PUT an endpoint that takes no body (vm.boot, vm.pause, vmm.shutdown...). */
  async put(endpoint: Exclude<ClhEndpoint, 'vm.create' | 'vmm.ping' | 'vm.info'>, timeoutMs?: number): Promise<void> {
    await this.call('PUT', endpoint, undefined, timeoutMs);
  }

  /** One request; resolves with the parsed JSON of a 200, or undefined for a 204. */
  call(method: 'GET' | 'PUT', endpoint: ClhEndpoint, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    const what = `Cloud Hypervisor ${method} ${endpoint}`;
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    if (method === 'PUT') headers['Content-Length'] = payload?.length ?? 0;
    if (payload) headers['Content-Type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const fail = (err: MayuError): void => {
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = request({ socketPath: this.socketPath, method, path: `/api/v1/${endpoint}`, headers, agent: false });
      const timer = setTimeout(() => fail(new MayuError('ERR_HYPERVISOR', `${what}: no answer within ${timeoutMs} ms`, { details: { endpoint, timeoutMs } })), timeoutMs);
      req.once('error', (err: NodeJS.ErrnoException) =>
        fail(new MayuError('ERR_HYPERVISOR', `${what}: ${err.message}`, { cause: err, details: { endpoint, socket: this.socketPath, errno: err.code } })),
      );
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) fail(new MayuError('ERR_HYPERVISOR', `${what}: answer larger than ${MAX_RESPONSE_BYTES} bytes`, { details: { endpoint } }));
          else chunks.push(chunk);
        });
        res.once('error', (err) => fail(new MayuError('ERR_HYPERVISOR', `${what}: ${err.message}`, { cause: err, details: { endpoint } })));
        res.once('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            const reason = errorBodyText(text);
            reject(
              new MayuError('ERR_HYPERVISOR', `${what}: ${status} ${STATUS_CODES[status] ?? ''}${reason ? `: ${reason}` : ''}`, {
                details: { endpoint, status, body: reason },
              }),
            );
            return;
          }
          if (status === 204 || text.trim() === '') return resolve(undefined);
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new MayuError('ERR_HYPERVISOR', `${what}: ${status} with a body that is not JSON`, { cause: err, details: { endpoint, status } }));
          }
        });
      });
      req.end(payload ?? undefined);
    });
  }
}
