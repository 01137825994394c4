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

  it("accepts a seccomp profile in the runtime spec's terms", () => {
    const spec = good() as Record<string, unknown> & { linux: Record<string, unknown> };
    spec.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        { names: ['read', 'write', '_llseek'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['kexec_load'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['personality'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    assert.deepEqual(problems(spec), []);
    assert.deepEqual(problems({ ...spec, linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } } }), []);
  });

  it('refuses a bad seccomp profile, naming the JSON pointer under /linux/seccomp', () => {
    const spec = good() as Record<string, unknown> & { linux: Record<string, unknown> };
    spec.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_Z80'],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_PERMIT' },
        { names: [], action: 'SCMP_ACT_ALLOW', comment: 'x' },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: -1, op: 'SCMP_CMP_MASK' }] },
      ],
    };
    const found = problems(spec).sort();
    assert.deepEqual(
      found.map((p) => p.split(':')[0]),
      [
        '/linux/seccomp/architectures/0',
        '/linux/seccomp/syscalls/0/action',
        '/linux/seccomp/syscalls/1/comment',
        '/linux/seccomp/syscalls/1/names',
        '/linux/seccomp/syscalls/2/args/0/index',
        '/linux/seccomp/syscalls/2/args/0/op',
        '/linux/seccomp/syscalls/2/args/0/value',
      ],
    );
    assert.match(found[1], /^\/linux\/seccomp\/syscalls\/0\/action: must be one of "SCMP_ACT_KILL", .*"SCMP_ACT_ALLOW", "SCMP_ACT_LOG" \(got "SCMP_ACT_PERMIT"\)$/);
    assert.equal(found[2], '/linux/seccomp/syscalls/1/comment: is not supported in a mayu guest');
    assert.deepEqual(problems({ ...spec, linux: { seccomp: {} } }), ['/linux/seccomp/defaultAction: is required']);
  });

  it('refuses a seccomp notify listener, saying why', () => {
    const spec = good() as Record<string, unknown> & { linux: Record<string, unknown> };
    spec.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: '/run/seccomp-agent.sock',
      listenerMetadata: 'x',
      syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }],
    };
    const found = problems(spec).sort();
    assert.equal(found.length, 3);
    assert.match(found[0], /^\/linux\/seccomp\/listenerMetadata: is not supported in a mayu guest: .*no seccomp agent in the guest.* \(got "x"\)$/);
    assert.match(found[1], /^\/linux\/seccomp\/listenerPath: is not supported in a mayu guest: seccomp notifications go to a listener socket on the host, .* \(got "\/run\/seccomp-agent.sock"\)$/);
    assert.match(found[2], /^\/linux\/seccomp\/syscalls\/0\/action: SCMP_ACT_NOTIFY is not supported in a mayu guest: .* \(got "SCMP_ACT_NOTIFY"\)$/);
    const notifyByDefault = { ...spec, linux: { seccomp: { defaultAction: 'SCMP_ACT_NOTIFY' } } };
    assert.match(problems(notifyByDefault).join(), /^\/linux\/seccomp\/defaultAction: SCMP_ACT_NOTIFY is not supported/);
  });

  it('refuses host security labels the guest kernel cannot honour, and takes empty ones', () => {
    const labelled = { ...good(), process: { ...good().process, apparmorProfile: 'docker-default', selinuxLabel: '' }, linux: { ...good().linux, mountLabel: 'system_u:object_r:x' } };
    assert.deepEqual(problems(labelled), [
      '/process/apparmorProfile: the guest kernel has no AppArmor: a container cannot be confined by it in a mayu guest (got "docker-default")',
      '/linux/mountLabel: the guest kernel has no SELinux: a container cannot be confined by it in a mayu guest (got "system_u:object_r:x")',
    ]);
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
