import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSpec, DEFAULT_CAPABILITIES, mergeEnv, resolveUser } from '../../src/oci/default-spec.js';
import { defaultSeccomp } from '../../src/oci/default-seccomp.js';
import { loadConfig } from '../../src/config/load-config.js';
import { vmSizeFromSpec } from '../../src/sandbox/vm-size.js';

const image = { entrypoint: [], cmd: ['sh'], env: ['PATH=/bin', 'A=image'], workingDir: '/srv', user: '' };

describe('OCI spec for mayu run', () => {
  let rootfs: string;
  before(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'mayu-rootfs-'));
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nstaff:x:50:\n');
  });
  after(() => rmSync(rootfs, { recursive: true, force: true }));

  it('takes the image defaults and the command line overrides', () => {
    const spec = defaultSpec(rootfs, image, { args: [], env: ['A=cli', 'B=2'], terminal: true, volumes: [{ source: '/h', destination: '/c', readOnly: true }] }) as {
      process: { args: string[]; env: string[]; cwd: string; terminal: boolean; user: unknown };
      mounts: { destination: string; options: string[]; type: string }[];
      root: { path: string };
    };
    assert.deepEqual(spec.process.args, ['sh']);
    assert.equal(spec.process.cwd, '/srv');
    assert.ok(spec.process.env.includes('A=cli') && spec.process.env.includes('B=2') && spec.process.env.includes('TERM=xterm'));
    assert.ok(!spec.process.env.includes('A=image'));
    assert.equal(spec.root.path, rootfs);
    assert.deepEqual(spec.mounts.at(-1), { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'ro', 'rprivate'] }, 'a volume is private unless asked otherwise');
  });

  it('puts arguments after an entrypoint, and refuses an image without a command', () => {
    const spec = defaultSpec(rootfs, { ...image, entrypoint: ['/bin/echo'] }, { args: ['hi'], env: [], terminal: false, volumes: [] }) as { process: { args: string[] } };
    assert.deepEqual(spec.process.args, ['/bin/echo', 'hi']);
    assert.throws(() => defaultSpec(rootfs, { ...image, cmd: [] }, { args: [], env: [], terminal: false, volumes: [] }), /CMD: the image has no command/);
  });

  it('filters system calls with the default seccomp profile unless told unconfined', () => {
    const base = { args: [], env: [], terminal: false, volumes: [] };
    type Linux = { linux: { seccomp?: unknown }; process: { capabilities: { bounding: string[] } } };
    const spec = defaultSpec(rootfs, image, base) as Linux;
    assert.deepEqual(spec.process.capabilities.bounding, DEFAULT_CAPABILITIES);
    assert.deepEqual(spec.linux.seccomp, defaultSeccomp(DEFAULT_CAPABILITIES));
    assert.deepEqual((defaultSpec(rootfs, image, { ...base, seccomp: 'default' }) as Linux).linux.seccomp, spec.linux.seccomp);
    assert.equal('seccomp' in (defaultSpec(rootfs, image, { ...base, seccomp: 'unconfined' }) as Linux).linux, false);
    assert.throws(() => defaultSpec(rootfs, image, { ...base, seccomp: 'off' as 'default' }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^seccomp: must be 'default' or 'unconfined' \(got "off"\)$/,
    });
  });

  it('resolves users and groups by id or by name from the image', () => {
    assert.deepEqual(resolveUser('', rootfs), { uid: 0, gid: 0 });
    assert.deepEqual(resolveUser('1000', rootfs), { uid: 1000, gid: 1001 });
    assert.deepEqual(resolveUser('app:staff', rootfs), { uid: 1000, gid: 50 });
    assert.deepEqual(resolveUser('4242:7', rootfs), { uid: 4242, gid: 7 });
    assert.throws(() => resolveUser('ghost', rootfs), { code: 'ERR_INVALID_ARGUMENT', message: /--user: no user "ghost"/ });
  });

  it('merges environments, later values winning', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=1'], ['A=2'], ['C=3']), ['A=2', 'B=1', 'C=3']);
  });

  it('sizes the VM from annotations, or the defaults plus the limits', () => {
    const q = loadConfig().sandbox;
    assert.deepEqual(vmSizeFromSpec({}, q), { vcpus: 1, memoryMib: 512 });
    assert.deepEqual(vmSizeFromSpec({ linux: { resources: { cpu: { quota: 150000, period: 100000 }, memory: { limit: 256 * 1048576 } } } }, q), { vcpus: 3, memoryMib: 768 });
    assert.deepEqual(vmSizeFromSpec({ annotations: { 'io.mayu.vcpus': '2', 'io.mayu.memory_mib': '300' } }, q), { vcpus: 2, memoryMib: 300 });
    // A pod's sandbox (containerd 1.7+): the pod's limits from CRI's annotations; none, or -1 (no CPU limit), add nothing.
    const pod = (cpuQuota: string, memory: string) => ({
      annotations: { 'io.kubernetes.cri.sandbox-cpu-quota': cpuQuota, 'io.kubernetes.cri.sandbox-cpu-period': '100000', 'io.kubernetes.cri.sandbox-memory': memory },
    });
    assert.deepEqual(vmSizeFromSpec(pod('200000', String(2 ** 30)), q), { vcpus: 3, memoryMib: 1536 });
    assert.deepEqual(vmSizeFromSpec(pod('-1', '0'), q), { vcpus: 1, memoryMib: 512 });
    // Limits that fit are added to the defaults and capped; one that alone exceeds the maximum is refused, naming it.
    assert.deepEqual(vmSizeFromSpec(pod('800000', String(8000 * 2 ** 20)), q), { vcpus: 8, memoryMib: 8192 });
    assert.throws(() => vmSizeFromSpec(pod('100000', String(2 ** 50)), q), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^\/annotations\/io.kubernetes.cri.sandbox-memory: is the pod's memory limit, more than a VM may have \(sandbox.max_memory = 8192 MiB\) \(got "1125899906842624"\)/,
    });
    assert.throws(() => vmSizeFromSpec(pod('1e12', '0'), q), /\/annotations\/io.kubernetes.cri.sandbox-cpu-quota: .*sandbox.max_vcpus = 8/);
    assert.throws(() => vmSizeFromSpec({ linux: { resources: { memory: { limit: 9000 * 2 ** 20 } } } }, q), /\/linux\/resources\/memory\/limit: is more memory than a VM may have/);
    assert.throws(() => vmSizeFromSpec({ linux: { resources: { cpu: { quota: 900000, period: 100000 } } } }, q), /\/linux\/resources\/cpu\/quota: is 9 CPUs over its period/);
    assert.throws(() => vmSizeFromSpec({ annotations: { 'io.mayu.vcpus': 'many' } }, q), /\/annotations\/io.mayu.vcpus: must be an integer from 1 to 8 \(sandbox.max_vcpus\) \(got "many"\)/);
    // A Kubernetes pod's size is its limits', not its own choice (sandbox.size_annotations, "standalone" by default).
    const criPod = { annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.mayu.vcpus': '8' } };
    assert.throws(() => vmSizeFromSpec(criPod, q), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^\/annotations\/io.mayu.vcpus: would size a Kubernetes pod's VM .*sandbox.size_annotations = "standalone"/,
    });
    assert.throws(() => vmSizeFromSpec({ annotations: { 'io.kubernetes.cri-o.ContainerType': 'sandbox', 'io.mayu.memory_mib': '900' } }, q), /would size a Kubernetes pod's VM/);
    assert.deepEqual(vmSizeFromSpec(criPod, { ...q, sizeAnnotations: 'always' }), { vcpus: 8, memoryMib: 512 }, '"always": pods too');
    assert.throws(() => vmSizeFromSpec({ annotations: { 'io.mayu.vcpus': '2' } }, { ...q, sizeAnnotations: 'never' }), /allows no one \(sandbox.size_annotations = "never"\)/);
    // A container limit never sizes the VM past the configuration's maximum; one beyond it, or an explicit ask, is an error.
    assert.deepEqual(vmSizeFromSpec({ linux: { resources: { cpu: { quota: 700000, period: 100000 }, memory: { limit: 8000 * 2 ** 20 } } } }, q), { vcpus: 8, memoryMib: 8192 });
    assert.throws(() => vmSizeFromSpec({ linux: { resources: { cpu: { quota: 1e9, period: 1 } } } }, q), /\/linux\/resources\/cpu\/quota: is 1000000000 CPUs/);
    assert.throws(() => vmSizeFromSpec({ annotations: { 'io.mayu.memory_mib': '100000' } }, q), /io.mayu.memory_mib: must be an integer from 1 to 8192 \(sandbox.max_memory\)/);
  });
});
