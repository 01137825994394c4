import assert from 'node:assert/strict';
import { createDialer, splitPort } from '../../src/agent/dialers.js';

describe('agent dialers', () => {
  it('picks a dialer by URL scheme', () => {
    assert.equal(createDialer('serial:///run/mayu/sandboxes/a/agent.sock').url, 'serial:///run/mayu/sandboxes/a/agent.sock');
    assert.equal(createDialer('vsock://3:1024').url, 'vsock://3:1024');
    assert.equal(createDialer('hvsock:///run/vm/clh.sock:1024').url, 'hvsock:///run/vm/clh.sock:1024');
  });

  it('names the endpoint and the problem for bad URLs', () => {
    assert.throws(() => createDialer('tcp://1.2.3.4:5'), { code: 'ERR_INVALID_ARGUMENT', message: /agent endpoint: unknown scheme \(known: serial, vsock, hvsock\) \(got "tcp:\/\/1.2.3.4:5"\)/ });
    assert.throws(() => createDialer('not a url'), /agent endpoint: is not a URL/);
    assert.throws(() => createDialer('serial://relative/path'), /serial:\/\/ needs an absolute socket path/);
    assert.throws(() => createDialer('vsock://x:1024'), /CID must be a 32-bit number/);
    assert.throws(() => createDialer('hvsock:///run/vm/clh.sock'), /must end in :PORT/);
  });

  it('splits CID:PORT and PATH:PORT', () => {
    assert.deepEqual(splitPort('f', '3:1024'), { host: '3', port: 1024 });
    assert.deepEqual(splitPort('f', '/a:b/c.sock:2'), { host: '/a:b/c.sock', port: 2 });
    assert.throws(() => splitPort('f', ':1'), /f: must end in :PORT/);
    assert.throws(() => splitPort('f', 'a:99999999999'), /f: must end in :PORT/);
  });
});
