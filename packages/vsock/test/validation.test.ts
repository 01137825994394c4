import assert from 'node:assert/strict';
import { connectVsock, VsockServer } from '../src/vsock-socket.js';

// AF_VSOCK itself is only exercised inside our guest (agent.selftest=vsock,
// test/integration/vsock-selftest.test.ts): the development host's vsock
// belongs to its own infrastructure. These checks fail before any socket.
describe('vsock argument checks', () => {
  it('rejects ports and CIDs that are not u32 before opening a socket', async () => {
    await assert.rejects(connectVsock(3, 2 ** 32), { name: 'RangeError', message: /port must be an integer/ });
    await assert.rejects(connectVsock(-1, 1024), { name: 'RangeError', message: /cid must be an integer/ });
    await assert.rejects(connectVsock(3, 1.5), RangeError);
    assert.throws(() => new VsockServer().listen(-5), { name: 'RangeError', message: /got -5/ });
  });

  it('a server that never listened closes quietly', () => {
    const s = new VsockServer();
    s.close();
    assert.equal(s.address(), null);
  });
});
