import assert from 'node:assert/strict';
import { hasPowerPress } from '../../src/system/power-button.js';

function inputEvent(type: number, code: number, value: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16LE(type, 16);
  b.writeUInt16LE(code, 18);
  b.writeInt32LE(value, 20);
  return b;
}

describe('power button events', () => {
  it('sees a KEY_POWER press among other events', () => {
    assert.ok(hasPowerPress(Buffer.concat([inputEvent(0, 0, 0), inputEvent(1, 116, 1), inputEvent(0, 0, 0)])));
  });

  it('ignores releases, other keys and partial events', () => {
    assert.ok(!hasPowerPress(inputEvent(1, 116, 0)));
    assert.ok(!hasPowerPress(inputEvent(1, 30, 1)));
    assert.ok(!hasPowerPress(inputEvent(1, 116, 1).subarray(0, 20)));
  });
});
