import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzz, FUZZ_TIMEOUT_MS } from '@mayu/protocol/testing';
import { CappedFile, truncationNote } from '../../src/util/capped-file.js';

describe('fuzz: capped console log', function () {
  this.timeout(FUZZ_TIMEOUT_MS);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-fuzz-cap-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('random writes never grow the file past its cap plus one note, and count every byte', () => {
    fuzz('capped-file/cap', (rand) => {
      const path = join(dir, 'console.log');
      const existing = rand.chance(0.2) ? rand.size(100) : 0;
      writeFileSync(path, Buffer.alloc(existing, 0x2e));
      const max = rand.pick([0, 1, rand.size(64), rand.size(4096)]);
      const f = new CappedFile(path, max);
      let sent = 0;
      for (let n = rand.size(20); n > 0; n--) {
        const chunk = rand.bytes(rand.chance(0.05) ? rand.size(3 * max + 100) : rand.size(64));
        f.write(chunk);
        sent += chunk.length;
        const added = statSync(path).size - existing;
        assert.ok(added <= max + truncationNote(max).length, `the file grew by ${added} bytes for a cap of ${max}`);
      }
      const kept = Math.min(sent, max);
      const note = sent > max ? truncationNote(max).length : 0;
      f.close();
      if (rand.chance(0.5)) {
        f.write(rand.bytes(10));
        sent += 10;
      }
      assert.equal(statSync(path).size - existing, kept + note);
      assert.equal(f.dropped, sent - kept);
    });
  });

  it('a failed write closes the file instead of throwing', () => {
    const f = new CappedFile(join(dir, 'full.log'), 100);
    (f as unknown as { fd: number }).fd = 2 ** 30; // a descriptor that is not open: EBADF
    assert.doesNotThrow(() => f.write(Buffer.from('lost')));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- it adds `code` (optional), which the rule does not count
    assert.equal((f.error as NodeJS.ErrnoException | null)?.code, 'EBADF');
    assert.equal(f.dropped, 4);
    f.write(Buffer.from('more'));
    assert.equal(f.dropped, 8);
  });
});
