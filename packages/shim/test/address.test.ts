import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { groupIdOf, socketPath } from '../src/address.js';

describe('shim socket and grouping', () => {
  it('puts the socket at /run/containerd/s/sha256(address/namespace/id), as containerd\'s shims do', () => {
    const expected = createHash('sha256').update('/run/containerd/containerd.sock/k8s.io/pod').digest('hex');
    assert.equal(socketPath('/run/containerd/containerd.sock', 'k8s.io', 'pod'), `/run/containerd/s/${expected}`);
    assert.notEqual(socketPath('/a', 'default', 'pod'), socketPath('/a', 'k8s.io', 'pod'), 'namespaces do not share shims');
  });

  it('groups a CRI container with its sandbox; a sandbox or a plain task is its own group', () => {
    const cri = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod-1' };
    assert.equal(groupIdOf('c1', cri), 'pod-1');
    assert.equal(groupIdOf('pod-1', { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod-1' }), 'pod-1');
    assert.equal(groupIdOf('t1', {}), 't1');
    assert.equal(groupIdOf('c2', { 'io.kubernetes.cri.container-type': 'container' }), 'c2', 'no sandbox id: its own group');
  });
});
