import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { fromServiceError, GRPC_STATUS_OF, toServiceError } from '../../src/errors/grpc-status.js';
import { ERROR_CODES, invalidArgument, MayuError } from '../../src/errors/mayu-error.js';

describe('error codes and gRPC status', () => {
  it('maps every error code, and not everything to UNKNOWN', () => {
    for (const code of ERROR_CODES) assert.notEqual(GRPC_STATUS_OF[code], undefined, code);
    assert.equal(GRPC_STATUS_OF.ERR_NOT_FOUND, status.NOT_FOUND);
    assert.equal(GRPC_STATUS_OF.ERR_INVALID_ARGUMENT, status.INVALID_ARGUMENT);
    assert.equal(GRPC_STATUS_OF.ERR_INVALID_STATE, status.FAILED_PRECONDITION);
    assert.ok(!Object.values(GRPC_STATUS_OF).includes(status.UNKNOWN));
  });

  it('carries the mayu code across a call', () => {
    const sent = toServiceError(invalidArgument('container_id', '', 'must not be empty'));
    assert.equal(sent.code, status.INVALID_ARGUMENT);
    const received = fromServiceError({ ...sent, message: '', name: 'Error' } as ServiceError, 'agent CreateContainer');
    assert.equal(received.code, 'ERR_INVALID_ARGUMENT');
    assert.match(received.message, /container_id: must not be empty \(got ""\)/);
  });

  it('derives a code from the status when the server sent none', () => {
    const err = { code: status.UNIMPLEMENTED, details: 'nope', metadata: new Metadata(), message: '', name: 'Error' } as ServiceError;
    assert.equal(fromServiceError(err, 'x').code, 'ERR_UNIMPLEMENTED');
  });

  it('wraps a foreign error as ERR_INTERNAL with its message', () => {
    const sent = toServiceError(new Error('boom'));
    assert.equal(sent.code, status.INTERNAL);
    assert.equal(sent.details, 'boom');
    assert.ok(new MayuError('ERR_TIMEOUT', 'x', { cause: 1 }).cause === 1);
  });

  it('does not believe a peer claiming a host-side code, and bounds what it says', () => {
    const md = new Metadata();
    md.set('mayu-error-code', 'ERR_HYPERVISOR_START');
    const spoofed = { code: status.INTERNAL, details: `boom\x1b[31m${'x'.repeat(5000)}`, metadata: md, message: '', name: 'Error' } as ServiceError;
    const got = fromServiceError(spoofed, 'agent X');
    assert.equal(got.code, 'ERR_AGENT', "a guest cannot make its error look like the host's");
    assert.ok(!got.message.includes('\x1b'), 'control characters are escaped');
    assert.match(got.message, /\\x1b\[31m/);
    assert.ok(got.message.length < 1200 && /more characters\)$/.test(got.message), 'long messages are cut');
    md.set('mayu-error-code', 'ERR_NOT_A_CODE');
    assert.equal(fromServiceError({ ...spoofed, code: status.NOT_FOUND }, 'x').code, 'ERR_NOT_FOUND');
  });
});
