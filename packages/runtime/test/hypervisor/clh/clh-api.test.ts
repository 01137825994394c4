import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorBodyText } from '../../../src/hypervisor/clh/api-error.js';
import { ClhApi } from '../../../src/hypervisor/clh/clh-api.js';

describe('Cloud Hypervisor API client', () => {
  let dir: string;
  let server: Server | null = null;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const serve = (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
    const path = join(dir, 'api.sock');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        handler(req, res);
      });
    });
    return new Promise((resolve) => server?.listen(path, () => resolve(path)));
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-clh-api-'));
    seen.length = 0;
  });
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    server = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends whole bodies with Content-Length (never chunked), and no body where none is taken', async () => {
    const api = new ClhApi(await serve((_req, res) => res.writeHead(204).end()), 1000);
    await api.create({
      payload: { kernel: '/k', cmdline: 'x' },
      cpus: { boot_vcpus: 1, max_vcpus: 1 },
      memory: { size: 1 },
      serial: { mode: 'Null' },
      console: { mode: 'Off' },
      rng: { src: '/dev/urandom' },
    });
    await api.put('vm.boot');
    const [create, boot] = seen;
    assert.equal(create?.method, 'PUT');
    assert.equal(create?.url, '/api/v1/vm.create');
    assert.equal(create?.headers['content-length'], String(Buffer.byteLength(create?.body ?? '')));
    assert.equal(create?.headers['content-type'], 'application/json');
    assert.equal(create?.headers['transfer-encoding'], undefined);
    assert.equal(JSON.parse(create?.body ?? '').payload.kernel, '/k');
    assert.equal(boot?.headers['content-length'], '0');
    assert.equal(boot?.headers['transfer-encoding'], undefined);
    assert.equal(boot?.body, '');
  });

  it('parses a 200, and turns any other status into ERR_HYPERVISOR with the endpoint, status and error text', async () => {
    const api = new ClhApi(
      await serve((req, res) => {
        if (req.url === '/api/v1/vmm.ping') res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"version":"v53.0","pid":1}');
        else if (req.url === '/api/v1/vm.pause') res.writeHead(500).end('["Error from API","The VM could not pause","Invalid transition from Created"]');
        else res.writeHead(404).end('VM not created');
      }),
      1000,
    );
    assert.deepEqual(await api.ping(), { version: 'v53.0', pid: 1 });
    await assert.rejects(api.put('vm.pause'), {
      code: 'ERR_HYPERVISOR',
      message: 'Cloud Hypervisor PUT vm.pause: 500 Internal Server Error: Error from API: The VM could not pause: Invalid transition from Created',
      details: { endpoint: 'vm.pause', status: 500, body: 'Error from API: The VM could not pause: Invalid transition from Created' },
    });
    await assert.rejects(api.info(), { code: 'ERR_HYPERVISOR', message: 'Cloud Hypervisor GET vm.info: 404 Not Found: VM not created' });
  });

  it('bounds every call: a VMM that never answers, and one that is not there', async () => {
    const api = new ClhApi(await serve(() => {}), 150);
    const t0 = performance.now();
    await assert.rejects(api.put('vm.boot'), { code: 'ERR_HYPERVISOR', message: /vm\.boot: no answer within 150 ms/ });
    assert.ok(performance.now() - t0 < 1000);
    await assert.rejects(new ClhApi(join(dir, 'absent.sock'), 1000).ping(), (err: { code: string; details: { errno?: string } }) => err.code === 'ERR_HYPERVISOR' && err.details.errno === 'ENOENT');
  });

  it('reads both error body formats: a JSON array of strings (v47+) and plain text', () => {
    assert.equal(errorBodyText('["Error from API","The VM could not boot","No such file"]'), 'Error from API: The VM could not boot: No such file');
    assert.equal(errorBodyText('The VM could not boot\n'), 'The VM could not boot');
    assert.equal(errorBodyText('{"odd":1}'), '{"odd":1}');
    assert.equal(errorBodyText('x'.repeat(5000)).length, 2001);
  });
});
