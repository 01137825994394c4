import assert from 'node:assert/strict';
import { parseFlags, serveArgs } from '../src/flags.js';

describe('shim command line', () => {
  it('parses what containerd 1.6 passes to start', () => {
    const f = parseFlags(['-namespace', 'k8s.io', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc', '-debug', 'start']);
    assert.deepEqual(f, {
      namespace: 'k8s.io',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      id: 'abc',
      bundle: '',
      debug: true,
      version: false,
      info: false,
      action: 'start',
    });
  });

  it('takes -name=value, --name, -debug=false, and ignores flags of newer containerd versions', () => {
    const f = parseFlags(['--namespace=default', '-id=x1', '-debug=false', '-bundle', '/b', '-socket', '/s', '-new-flag', 'delete']);
    assert.equal(f.namespace, 'default');
    assert.equal(f.id, 'x1');
    assert.equal(f.debug, false);
    assert.equal(f.bundle, '/b');
    assert.equal(f.address, '/s');
    assert.equal(f.action, 'delete');
    assert.equal(parseFlags(['-v']).version, true);
  });

  it('refuses a flag without its value, naming it', () => {
    assert.throws(() => parseFlags(['-id']), /flag -id needs a value/);
  });

  it('serveArgs round-trips through parseFlags with the group id and the serve action', () => {
    const f = parseFlags(['-namespace', 'k8s.io', '-address', '/a', '-publish-binary', '/p', '-id', 'c1', '-debug', 'start']);
    const back = parseFlags(serveArgs(f, 'pod-1'));
    assert.deepEqual(back, { ...f, id: 'pod-1', action: 'serve' });
  });
});
