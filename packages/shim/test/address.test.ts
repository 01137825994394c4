import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSocketDir, groupIdOf, socketPath } from '../src/address.js';

describe('shim socket and grouping', () => {
  it("puts the socket at /run/containerd/s/sha256(address/namespace/id), as containerd's shims do", () => {
    const expected = createHash('sha256').update('/run/containerd/containerd.sock/k8s.io/pod').digest('hex');
    assert.equal(socketPath('/run/containerd/containerd.sock', 'k8s.io', 'pod'), `/run/containerd/s/${expected}`);
    assert.notEqual(socketPath('/a', 'default', 'pod'), socketPath('/a', 'k8s.io', 'pod'), 'namespaces do not share shims');
  });

  it("groups a pod's container (containerd CRI's or cri-o's annotations) with its sandbox; a sandbox or a plain task is its own group", () => {
    const cri = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod-1' };
    assert.equal(groupIdOf('c1', cri), 'pod-1');
    assert.equal(groupIdOf('c3', { 'io.kubernetes.cri-o.ContainerType': 'container', 'io.kubernetes.cri-o.SandboxID': 'pod-2' }), 'pod-2');
    assert.equal(groupIdOf('pod-2', { 'io.kubernetes.cri-o.ContainerType': 'sandbox', 'io.kubernetes.cri-o.SandboxID': 'pod-2' }), 'pod-2');
    assert.equal(groupIdOf('pod-1', { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod-1' }), 'pod-1');
    assert.equal(groupIdOf('t1', {}), 't1');
    assert.equal(groupIdOf('c2', { 'io.kubernetes.cri.container-type': 'container' }), 'c2', 'no sandbox id: its own group');
  });

  describe('ensureSocketDir', () => {
    let root: string;
    beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'mayu-sockdir-'))));
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('creates a missing directory (and its parents) 0700, whatever the umask', () => {
      const dir = join(root, 's');
      const umask = process.umask(0o277); // mkdir alone would give 0500
      try {
        assert.deepEqual(ensureSocketDir(dir), { created: true, mode: 0o700 });
      } finally {
        process.umask(umask);
      }
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.deepEqual(ensureSocketDir(join(root, 'run', 'containerd', 's')), { created: true, mode: 0o700 });
    });

    it("leaves an existing directory (containerd's) as it is, and says its mode", () => {
      const dir = join(root, 's');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      assert.deepEqual(ensureSocketDir(dir), { created: false, mode: 0o755 });
      assert.equal(statSync(dir).mode & 0o777, 0o755);
    });
  });
});
