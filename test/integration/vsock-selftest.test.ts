import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { useGuestFactory } from '../helpers/guest-factory.js';

/**
 * The vsock addon is exercised only inside our own guest: the development
 * host's /dev/vsock belongs to its infrastructure. The agent runs its vsock
 * self-test (loopback, CID 1) and prints one result line on the console.
 */
describe('vsock package inside the guest (loopback, CID 1)', () => {
  const vms = useGuestFactory();

  it('listens, connects, streams, half-closes, refuses, and serves gRPC over AF_VSOCK', async () => {
    // A cold boot: the self-test runs as the agent starts, and a template would have run it before it was saved.
    const { sandbox } = await vms().boot({ kernelParams: 'agent.selftest=vsock', toml: '[factory]\ntemplate = false' });
    const consoleLog = join(sandbox.stateDir, 'console.log');
    let line: string | undefined;
    for (let waited = 0; !line && waited < 90_000; waited += 250) {
      line = readFileSync(consoleLog, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('mayu-selftest '));
      if (!line) await sleep(250);
    }
    assert.ok(line, 'no self-test result on the console');
    const result = JSON.parse(line.slice('mayu-selftest '.length).trim()) as { name: string; passed: string[]; failed: unknown[] };
    assert.equal(result.name, 'vsock');
    assert.deepEqual(result.failed, []);
    assert.equal(result.passed.length, 7, result.passed.join('; '));
  });
});
