/**
 * A fake `cloud-hypervisor` for contract tests, written from the fact sheet
 * (shared/reference/cloud-hypervisor-api.md): the same launch flags, the
 * REST API on --api-socket with CH's status codes and error bodies (a JSON
 * array of strings since v47, plain text before), every request body checked
 * against a strict schema (schema.ts), the VM state machine, consoles
 * (serial socket, virtio console pty), and hybrid vsock to a guest port.
 * It boots nothing.
 *
 * Behaviour is set through the environment:
 * - FAKE_CLH_VERSION: what --version and vmm.ping report (default v53.0).
 * - FAKE_CLH_AGENT: a hybrid-vsock socket (a FakeAgent) serving guest port 1024.
 * - FAKE_CLH_FAIL: "endpoint:status[,...]": answer that status with an error body.
 * - FAKE_CLH_NO_API_SOCKET=1: never create the API socket (and never exit).
 * - FAKE_CLH_DIE_ON=endpoint: exit (code 3) on that request, without answering.
 * - FAKE_CLH_DIE_AFTER_BOOT=ms: exit (code 3) that long after vm.boot.
 * - FAKE_CLH_IGNORE_POWER_BUTTON=1: the guest ignores vm.power-button.
 * - FAKE_CLH_RECORD=path: append each request as a JSON line {method, endpoint, body, status}.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { schemaErrors, type BodySchema } from './schema.js';
import { ApiFail, FakeVm } from './fake-vm.js';

const env = process.env;
const VERSION = env.FAKE_CLH_VERSION ?? 'v53.0';
const MAJOR = Number(/(\d+)/.exec(VERSION)?.[1] ?? 53);
/** micro-http's request size limit. */
const MAX_REQUEST = 51_200;
const VM_FLAGS = ['--kernel', '--firmware', '--igvm', '--cmdline', '--initramfs', '--cpus', '--memory', '--disk', '--net', '--fs', '--vsock', '--pmem', '--rng', '--serial', '--console'];

function usage(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): { api: string | null; logFile: string | null; seccomp: string } {
  const o = { api: null as string | null, logFile: null as string | null, seccomp: 'true' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].split('=', 1)[0], argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = (): string => inline ?? argv[++i] ?? usage(`a value is required for '${flag}'`);
    if (flag === '-V' || flag === '--version') {
      process.stdout.write(`cloud-hypervisor ${VERSION}\n`);
      process.exit(0);
    } else if (flag === '--api-socket') {
      const v = value();
      if (v.startsWith('fd=')) usage('the fake takes --api-socket path=... only');
      o.api = v.startsWith('path=') ? v.slice(5) : v;
    } else if (flag === '--log-file') o.logFile = value();
    else if (flag === '--seccomp') {
      o.seccomp = value();
      if (!['true', 'false', 'log', ...(MAJOR >= 53 ? ['errno'] : [])].includes(o.seccomp)) usage(`invalid value '${o.seccomp}' for '--seccomp'`);
    } else if (flag === '--event-monitor') value();
    else if (/^-v+$/.test(flag) || flag === '--no-shutdown') continue;
    else if (VM_FLAGS.includes(flag)) usage(`the fake boots through the API only (got ${flag})`);
    else usage(`unexpected argument '${flag}' found`);
  }
  return o;
}

const args = parseArgs(process.argv.slice(2));
const started = performance.now();
if (args.logFile) writeFileSync(args.logFile, '');
function log(line: string): void {
  const text = `cloud-hypervisor: ${((performance.now() - started) / 1000).toFixed(6)}s: <fake> INFO: ${line}\n`;
  if (args.logFile) appendFileSync(args.logFile, text);
  else process.stderr.write(text);
}

const guestPorts = new Map<number, string>(env.FAKE_CLH_AGENT ? [[1024, env.FAKE_CLH_AGENT]] : []);
const vm = new FakeVm({ major: MAJOR, guestPorts, log });
const failures = new Map(
  (env.FAKE_CLH_FAIL ?? '')
    .split(',')
    .filter(Boolean)
    .map((f) => [f.split(':')[0], Number(f.split(':')[1])] as const),
);

function exitNow(code: number, why: string): never {
  log(why);
  vm.kill();
  process.exit(code);
}

async function exitGracefully(code: number, why: string): Promise<void> {
  log(why);
  await vm.teardown();
  server.close();
  process.exit(code);
}

type Answer = { status: 200; body: unknown; after?: () => void } | { status: 204; after?: () => void };
interface Route {
  method: 'GET' | 'PUT';
  body?: BodySchema;
  run: (body: unknown) => Answer | Promise<Answer>;
}
const done: Answer = { status: 204 };
const ROUTES: Record<string, Route> = {
  'vmm.ping': { method: 'GET', run: () => ({ status: 200, body: { version: VERSION, build_version: `${VERSION}-fake`, pid: process.pid, features: ['kvm'] } }) },
  'vmm.shutdown': { method: 'PUT', run: () => ({ status: 204, after: () => void exitGracefully(0, 'vmm.shutdown: exiting') }) },
  'vm.create': { method: 'PUT', body: 'VmConfig', run: async (b) => (await vm.create(b as Record<string, unknown>), done) },
  'vm.boot': {
    method: 'PUT',
    run: async () => {
      await vm.boot();
      const ms = env.FAKE_CLH_DIE_AFTER_BOOT;
      if (ms) setTimeout(() => exitNow(3, 'dying after boot (FAKE_CLH_DIE_AFTER_BOOT)'), Number(ms));
      return done;
    },
  },
  'vm.info': { method: 'GET', run: () => ({ status: 200, body: vm.info() }) },
  'vm.pause': { method: 'PUT', run: () => (vm.pause(), done) },
  'vm.resume': { method: 'PUT', run: () => (vm.resume(), done) },
  'vm.shutdown': { method: 'PUT', run: () => (vm.shutdown(), done) },
  'vm.delete': { method: 'PUT', run: async () => (await vm.delete(), done) },
  'vm.power-button': {
    method: 'PUT',
    run: () => {
      vm.enter('vm.power-button');
      // The guest powers off and CH exits (no --no-shutdown).
      const off = env.FAKE_CLH_IGNORE_POWER_BUTTON ? undefined : () => setTimeout(() => void exitGracefully(0, 'guest powered off'), 50);
      return { status: 204, ...(off ? { after: off } : {}) };
    },
  },
  'vm.add-disk': { method: 'PUT', body: 'DiskConfig', run: (b) => vm.add('disks', b as { id?: string }) },
  'vm.add-fs': { method: 'PUT', body: 'FsConfig', run: (b) => vm.add('fs', b as { id?: string }) },
  'vm.add-net': { method: 'PUT', body: 'NetConfig', run: (b) => vm.add('net', b as { id?: string }) },
  'vm.add-pmem': { method: 'PUT', body: 'PmemConfig', run: (b) => vm.add('pmem', b as { id?: string }) },
  'vm.add-vsock': { method: 'PUT', body: 'VsockConfig', run: (b) => vm.add('vsock', b as { id?: string }) },
  'vm.remove-device': { method: 'PUT', body: 'VmRemoveDevice', run: (b) => (vm.remove((b as { id: string }).id), done) },
  'vm.counters': { method: 'GET', run: () => (vm.enter('vm.counters'), { status: 200, body: {} }) },
};

/** Checks a request as CH's HTTP layer does (and a little more strictly), then runs its route. */
async function answer(req: IncomingMessage, raw: Buffer, endpoint: string): Promise<Answer> {
  if (req.headers['transfer-encoding']) throw new ApiFail(400, ['Transfer-Encoding is not supported: send the whole body with Content-Length']);
  if (raw.length > MAX_REQUEST) throw new ApiFail(400, [`Request larger than ${MAX_REQUEST} bytes`]);
  const route = ROUTES[endpoint];
  if (!route) throw new ApiFail(404, [`Unknown endpoint ${req.url ?? ''}`]);
  if (req.method !== route.method) throw new ApiFail(400, [`Invalid HTTP method ${req.method ?? ''} for ${endpoint}`]);
  let body: unknown;
  if (!route.body && raw.length > 0) throw new ApiFail(400, [`${endpoint} takes no body`]);
  if (route.body) {
    if (raw.length === 0) throw new ApiFail(400, ['Missing request body']);
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new ApiFail(400, [`Error parsing ${route.body}`, (err as Error).message]);
    }
    const errors = schemaErrors(route.body, body);
    if (errors.length > 0) throw new ApiFail(400, [`Error parsing ${route.body}`, ...errors]);
  }
  if (env.FAKE_CLH_DIE_ON === endpoint) exitNow(3, `dying on ${endpoint} (FAKE_CLH_DIE_ON)`);
  const injected = failures.get(endpoint);
  if (injected) throw new ApiFail(injected, ['Error from API', `Injected failure of ${endpoint}`, 'fake: FAKE_CLH_FAIL']);
  return route.run(body);
}

function send(res: ServerResponse, a: Answer | ApiFail): void {
  if (a instanceof ApiFail) {
    const json = MAJOR >= 47;
    const text = json ? JSON.stringify(a.chain) : a.chain.join(': ');
    res.writeHead(a.status, { 'Content-Type': json ? 'application/json' : 'text/plain', 'Content-Length': Buffer.byteLength(text) }).end(text);
    return;
  }
  if (a.status === 204) res.writeHead(204).end();
  else {
    const text = JSON.stringify(a.body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }
  if (a.after) res.once('finish', a.after);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const endpoint = req.url?.startsWith('/api/v1/') ? req.url.slice('/api/v1/'.length) : '';
    answer(req, raw, endpoint)
      .catch((err: unknown) => (err instanceof ApiFail ? err : new ApiFail(500, ['Error from API', String(err)])))
      .then((a) => {
        log(`${req.method ?? ''} ${endpoint} -> ${a instanceof ApiFail ? `${a.status} ${a.message}` : a.status}`);
        if (env.FAKE_CLH_RECORD) {
          let body: unknown = raw.toString('utf8');
          try {
            body = raw.length > 0 ? JSON.parse(body as string) : undefined;
          } catch {
            // kept as text
          }
          appendFileSync(env.FAKE_CLH_RECORD, `${JSON.stringify({ method: req.method, endpoint, body, status: a.status })}\n`);
        }
        send(res, a);
      })
      .catch((err: unknown) => {
        // The fake must say why it could not answer, not die of an unhandled rejection.
        log(`cannot answer ${endpoint}: ${String(err)}`);
        res.destroy();
      });
  });
});
server.maxConnections = 10;

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => exitNow(128 + (sig === 'SIGTERM' ? 15 : 2), `${sig}: exiting`));
log(`fake cloud-hypervisor ${VERSION} (pid ${process.pid}, uid ${process.getuid?.() ?? '?'}, seccomp ${args.seccomp})`);
if (env.FAKE_CLH_NO_API_SOCKET) {
  log('not creating the API socket (FAKE_CLH_NO_API_SOCKET)');
  setInterval(() => {}, 1 << 30);
} else if (args.api) {
  server.once('error', (err: NodeJS.ErrnoException) => exitNow(1, `cannot bind the API socket ${args.api}: ${err.code === 'EADDRINUSE' ? 'socket in use' : err.message}`));
  server.listen(args.api);
} else {
  setInterval(() => {}, 1 << 30);
}
