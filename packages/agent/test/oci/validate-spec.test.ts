import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateProcess, validateSpec } from '../../src/oci/validate-spec.js';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const good = () => ({
  ociVersion: '1.0.2',
  process: { args: ['sh', '-c', 'true'], cwd: '/', env: ['PATH=/bin'], user: { uid: 1000, gid: 1000 }, terminal: false },
  root: { path: '/run/mayu/shared/c1/rootfs', readonly: true },
  hostname: 'c1',
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], cgroupsPath: '/x', resources: {} },
  annotations: { a: 'b' },
});

function problems(spec: unknown): string[] {
  try {
    validateSpec(spec);
    return [];
  } catch (err) {
    assert.equal((err as { code: string }).code, 'ERR_INVALID_ARGUMENT');
    return (err as { details: { problems: string[] } }).details.problems;
  }
}

describe('OCI spec validation (agent)', () => {
  it('accepts a spec with guest paths', () => {
    assert.deepEqual(problems(good()), []);
  });

  it('names the JSON pointer and value of each problem', () => {
    const spec = good() as Record<string, unknown> & { process: Record<string, unknown>; linux: { namespaces: unknown[] } };
    spec.process.args = [];
    spec.process.cwd = 'relative';
    spec.process.env = ['NOEQUALS'];
    spec.linux.namespaces = [{ type: 'network', path: '/var/run/netns/pod' }];
    (spec as Record<string, unknown>).hooks = { prestart: [] };
    assert.deepEqual(problems(spec).sort(), [
      '/hooks: is not supported in a mayu guest',
      '/linux/namespaces/0/path: is not supported in a mayu guest',
      '/process/args: must NOT have fewer than 1 items (got [])',
      '/process/cwd: must match pattern "^/" (got "relative")',
      '/process/env/0: must match pattern "^[^=]+=" (got "NOEQUALS")',
    ]);
  });

  it('refuses a rootfs outside the guest directories mayu prepares, and missing fields', () => {
    const spec = good() as Record<string, unknown>;
    spec.root = { path: '/etc' };
    delete spec.process;
    assert.deepEqual(problems(spec).sort(), ['/process: is required', '/root/path: must match pattern "^/run/mayu/" (got "/etc")']);
    assert.deepEqual(problems('not an object'), ['/: must be object (got "not an object")']);
  });

  it('validates an exec process, with pointers under /process', () => {
    assert.throws(() => validateProcess({ args: ['ls'], cwd: '/', user: { uid: -1, gid: 0 } }), /\/process\/user\/uid: must be >= 0 \(got -1\)/);
    assert.equal(validateProcess({ args: ['ls'], cwd: '/' }).args[0], 'ls');
  });

  it('the generated validators are what `npm run gen:validators` produces', function () {
    this.timeout(30000);
    const dir = mkdtempSync(join(tmpdir(), 'mayu-val-'));
    try {
      execFileSync(process.execPath, [join(root, 'scripts/gen-validators.mjs'), '--out', join(dir, 'v.ts')]);
      const committed = readFileSync(join(root, 'packages/agent/src/gen/oci-validators.ts'), 'utf8');
      assert.equal(committed, readFileSync(join(dir, 'v.ts'), 'utf8'), 'stale: run npm run gen:validators');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
