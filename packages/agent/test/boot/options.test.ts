import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, parseAgentOptions } from '../../src/boot/options.js';

describe('agent options', () => {
  it('defaults without arguments', () => {
    assert.deepEqual(parseAgentOptions([]), { options: DEFAULT_OPTIONS, warnings: [] });
  });

  it('reads agent.* kernel parameters', () => {
    const { options, warnings } = parseAgentOptions([
      'agent.log=debug',
      'agent.channel=agent.channel.1',
      'agent.vsock_port=2048',
      'agent.hostname=pod-1',
      'agent.selftest=vsock',
      'agent.log_device=/dev/hvc1',
    ]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(options, {
      logLevel: 'debug',
      serialPort: 'agent.channel.1',
      vsockPort: 2048,
      logDevice: '/dev/hvc1',
      hostname: 'pod-1',
      selftest: 'vsock',
    });
  });

  it('warns about bad values and unknown keys, and keeps the defaults', () => {
    const { options, warnings } = parseAgentOptions(['agent.log=loud', 'agent.vsock_port=0', 'agent.hostname=-bad', 'agent.color=red', 'stray', 'agent.log_device=tty']);
    assert.deepEqual(options, DEFAULT_OPTIONS);
    assert.equal(warnings.length, 6);
    assert.match(warnings[0] ?? '', /agent.log: unknown level "loud"/);
  });
});
