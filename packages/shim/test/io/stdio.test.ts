import assert from 'node:assert/strict';
import { parseStdio } from '../../src/io/stdio.js';

describe('stdio URIs', () => {
  it('reads FIFO paths and fifo, file and binary URIs', () => {
    assert.deepEqual(parseStdio('stdout', ''), { kind: 'none' });
    assert.deepEqual(parseStdio('stdout', '/run/ctrd/fifo/x-stdout'), { kind: 'fifo', path: '/run/ctrd/fifo/x-stdout' });
    assert.deepEqual(parseStdio('stdout', 'fifo:///run/f'), { kind: 'fifo', path: '/run/f' });
    assert.deepEqual(parseStdio('stdout', 'file:///var/log/a%20b.log'), { kind: 'file', path: '/var/log/a b.log' });
    assert.deepEqual(parseStdio('stdout', 'binary:///usr/bin/logger?id=1&flag'), { kind: 'binary', path: '/usr/bin/logger', args: ['id', '1', 'flag'] });
  });

  it('refuses what it cannot write to, naming the field and value', () => {
    assert.throws(() => parseStdio('stderr', 'relative/path'), /stderr: is neither a path nor a URI \(got "relative\/path"\)/);
    assert.throws(() => parseStdio('stdout', 'http://example.invalid/x'), /stdout: has an unsupported scheme/);
  });
});
