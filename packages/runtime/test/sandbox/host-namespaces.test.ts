import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isHostNamespace, namespaceIdentity } from '../../src/host/namespaces.js';
import { resolveHostNamespaces } from '../../src/sandbox/host-namespaces.js';

/** A pod sandbox spec as cri-o writes one: the namespaces it pinned, given by path. */
function crioSandboxSpec(netns: string, ipcns: string, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    root: { path: 'rootfs' },
    annotations: { 'io.kubernetes.cri-o.ContainerType': 'sandbox', ...annotations },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: netns }, { type: 'ipc', path: ipcns }, { type: 'uts', path: ipcns }, { type: 'mount' }],
    },
  };
}

/**
 * The host's namespaces told apart by what they are (nsfs device and inode),
 * against real namespaces: this process's, a new one held by a sleeping
 * process, and pins of both (bind mounts, as cri-o's pinns makes them).
 */
describe("the host's namespaces, by identity", function () {
  let holder: ChildProcess;
  let dir: string;
  let podNetns: string;
  let podIpc: string;
  let hostNetPin: string;
  let hostIpcPin: string;
  const pins: string[] = [];

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'mayu-hostns-'));
    holder = spawn('unshare', ['--net', '--ipc', 'sleep', '600'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        if (readlinkSync(`/proc/${holder.pid}/ns/net`) !== readlinkSync('/proc/self/ns/net')) break;
      } catch {
        // not yet
      }
      execFileSync('sleep', ['0.02']);
    }
    const pin = (name: string, of: string): string => {
      const file = join(dir, name);
      writeFileSync(file, '');
      execFileSync('mount', ['--bind', of, file]);
      pins.push(file);
      return file;
    };
    podNetns = pin('pod-net', `/proc/${holder.pid}/ns/net`);
    podIpc = pin('pod-ipc', `/proc/${holder.pid}/ns/ipc`);
    hostNetPin = pin('host-net', '/proc/self/ns/net');
    hostIpcPin = pin('host-ipc', '/proc/self/ns/ipc');
  });
  after(() => {
    for (const p of pins) execFileSync('umount', [p]);
    holder?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a namespace has one identity under every path that names it; a plain or missing file has none', () => {
    assert.match(namespaceIdentity('/proc/self/ns/net') ?? '', /^\d+:\d+$/);
    assert.equal(namespaceIdentity(hostNetPin), namespaceIdentity('/proc/self/ns/net'), 'a pin is the namespace it pins');
    assert.notEqual(namespaceIdentity(podNetns), namespaceIdentity('/proc/self/ns/net'));
    writeFileSync(join(dir, 'plain'), 'x');
    assert.equal(namespaceIdentity(join(dir, 'plain')), null);
    assert.equal(namespaceIdentity(join(dir, 'missing')), null);
  });

  it("the host's are this process's and PID 1's, by whatever path; a pod's is not", () => {
    assert.equal(isHostNamespace('network', '/proc/self/ns/net'), true);
    // PID 1's namespaces may be closed even to root (a VM's init that is not dumpable): then this process's tell.
    if (namespaceIdentity('/proc/1/ns/net') !== null) assert.equal(isHostNamespace('network', '/proc/1/ns/net'), true);
    assert.equal(isHostNamespace('network', hostNetPin), true, "cri-o's pin of the node's namespace");
    assert.equal(isHostNamespace('ipc', hostIpcPin), true);
    assert.equal(isHostNamespace('network', podNetns), false);
    assert.equal(isHostNamespace('ipc', podIpc), false);
  });

  it("refuses a hostNetwork or hostIPC pod that cri-o hands over as a pinned path, naming the field; a pod's own namespaces pass unchanged", () => {
    const pod = crioSandboxSpec(podNetns, podIpc);
    assert.equal(resolveHostNamespaces(pod, 'refuse'), pod, 'the same spec: nothing to change');
    assert.throws(
      () => resolveHostNamespaces(crioSandboxSpec(hostNetPin, podIpc), 'refuse'),
      (err: Error) => {
        assert.match(err.message, /\/linux\/namespaces\/1\/path: is the host's own network namespace: the container would share the host's \(Kubernetes hostNetwork\)/);
        assert.match(err.message, /runtime\.host_namespaces = "vm"/);
        assert.match(err.message, new RegExp(hostNetPin));
        return true;
      },
    );
    assert.throws(() => resolveHostNamespaces(crioSandboxSpec(podNetns, hostIpcPin), 'refuse'), /\/linux\/namespaces\/2\/path: is the host's own ipc namespace: .*\(Kubernetes hostIPC\)/);
  });

  it("honours cri-o's annotations (HostNetwork, NamespaceOptions NODE) even where the path does not tell; a malformed one is refused, naming it", () => {
    assert.throws(
      () => resolveHostNamespaces(crioSandboxSpec(podNetns, podIpc, { 'io.kubernetes.cri-o.HostNetwork': 'true' }), 'refuse'),
      /\/annotations\/io\.kubernetes\.cri-o\.HostNetwork: asks for the host's network namespace: .*\(Kubernetes hostNetwork\)/,
    );
    assert.throws(
      () => resolveHostNamespaces(crioSandboxSpec(podNetns, podIpc, { 'io.kubernetes.cri-o.NamespaceOptions': '{"pid":2}' }), 'refuse'),
      /\/annotations\/io\.kubernetes\.cri-o\.NamespaceOptions: asks for the host's pid namespace: .*\(Kubernetes hostPID\)/,
    );
    const pod = crioSandboxSpec(podNetns, podIpc, { 'io.kubernetes.cri-o.HostNetwork': 'false', 'io.kubernetes.cri-o.NamespaceOptions': '{"pid":1}' });
    assert.equal(resolveHostNamespaces(pod, 'refuse'), pod);
    assert.throws(
      () => resolveHostNamespaces(crioSandboxSpec(podNetns, podIpc, { 'io.kubernetes.cri-o.NamespaceOptions': '{pid' }), 'refuse'),
      /\/annotations\/io\.kubernetes\.cri-o\.NamespaceOptions: must be JSON/,
    );
  });

  it("with host_namespaces = \"vm\", leaves the host's namespaces out (the VM's then), says so, and never changes the caller's spec", () => {
    const given = crioSandboxSpec(hostNetPin, hostIpcPin, { 'io.kubernetes.cri-o.HostNetwork': 'true' });
    const before = JSON.stringify(given);
    const accepted: string[] = [];
    const spec = resolveHostNamespaces(given, 'vm', { onAccepted: (a) => accepted.push(`${a.type} ${a.by}`) });
    assert.deepEqual(
      (spec.linux as { namespaces: { type: string }[] }).namespaces.map((ns) => ns.type),
      ['pid', 'uts', 'mount'],
    );
    assert.deepEqual(accepted, ['network /linux/namespaces/1/path', 'ipc /linux/namespaces/2/path', 'network /annotations/io.kubernetes.cri-o.HostNetwork']);
    assert.equal(JSON.stringify(given), before);
  });

  it("a pod member's /proc/PID/ns paths of its pod's sandbox task mean the pod's (that process lives in the host's namespaces); any other path is judged", () => {
    const member = {
      annotations: { 'io.kubernetes.cri-o.ContainerType': 'container' },
      linux: {
        namespaces: [
          { type: 'ipc', path: `/proc/${process.pid}/ns/ipc` },
          { type: 'pid', path: `/proc/${process.pid}/ns/pid` },
          { type: 'network', path: podNetns },
        ],
      },
    };
    assert.equal(resolveHostNamespaces(member, 'refuse', { podTaskPid: process.pid }), member);
    assert.throws(() => resolveHostNamespaces(member, 'refuse'), /\/linux\/namespaces\/0\/path: is the host's own ipc namespace/);
  });

  it('refuses a namespace path that names no namespace, naming the field', () => {
    assert.throws(() => resolveHostNamespaces(crioSandboxSpec(join(dir, 'missing'), podIpc), 'refuse'), /\/linux\/namespaces\/1\/path: names no network namespace \(not a namespace file, or gone\)/);
    assert.throws(() => resolveHostNamespaces(crioSandboxSpec(podNetns, join(dir, 'missing')), 'vm'), /\/linux\/namespaces\/2\/path: names no ipc namespace/);
  });
});
