import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDiskBySerial, splitOptions } from '../../src/storage/mount-storage.js';
import { startErrorCode } from '../../src/container/container-manager.js';

describe('guest storage', () => {
  it('splits mount options into flags and data', () => {
    assert.deepEqual(splitOptions(['ro', 'nosuid', 'rw', 'lowerdir=/a', 'size=1m']), { flags: 1 | 2, data: ['lowerdir=/a', 'size=1m'] });
  });

  it('finds a disk by the serial the host gave it', () => {
    const sys = mkdtempSync(join(tmpdir(), 'mayu-block-'));
    try {
      for (const [dev, serial] of [
        ['vda', ''],
        ['vdb', 'mayu-rootfs\n'],
      ]) {
        mkdirSync(join(sys, dev));
        if (serial) writeFileSync(join(sys, dev, 'serial'), serial);
      }
      assert.equal(findDiskBySerial('mayu-rootfs', sys), '/dev/vdb');
      assert.throws(() => findDiskBySerial('other', sys), { code: 'ERR_NOT_FOUND', message: /no disk with serial "other"/ });
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });

  it('classifies the OCI runtime start failures', () => {
    assert.equal(startErrorCode('executable file `nosuch` not found in $PATH: No such file or directory'), 'ERR_COMMAND_NOT_FOUND');
    assert.equal(startErrorCode('open `/bin/x`: Permission denied'), 'ERR_COMMAND_NOT_EXECUTABLE');
    assert.equal(startErrorCode('mount `proc` to `/proc`: Operation not permitted'), 'ERR_INVALID_ARGUMENT');
  });
});
