import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CappedFile } from '../../src/util/capped-file.js';
import { RateLimiter } from '../../src/util/rate-limiter.js';
import { StateMachine } from '@mayu/protocol';
import { settlesWithin } from '../../src/util/timeout.js';
import { SANDBOX_TRANSITIONS, type SandboxState } from '../../src/sandbox/sandbox-state.js';

describe('runtime utilities', () => {
  it('state machine: allowed transitions pass, others name from and to', () => {
    const seen: string[] = [];
    const m = new StateMachine<SandboxState>('sandbox x', 'created', SANDBOX_TRANSITIONS, (f, t) => seen.push(`${f}->${t}`));
    m.transition('starting');
    m.transition('running');
    assert.throws(() => m.transition('created'), { code: 'ERR_INVALID_STATE', message: 'sandbox x: cannot go from running to created', details: { from: 'running', to: 'created' } });
    m.transition('stopping');
    m.transition('stopped');
    assert.deepEqual(seen, ['created->starting', 'starting->running', 'running->stopping', 'stopping->stopped']);
    assert.equal(m.can('starting'), false);
  });

  it('capped file: keeps the first bytes and notes the truncation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-cap-'));
    try {
      const f = new CappedFile(join(dir, 'log'), 10);
      f.write(Buffer.from('12345'));
      f.write(Buffer.from('67890abc'));
      f.write(Buffer.from('more'));
      f.close();
      assert.equal(readFileSync(join(dir, 'log'), 'utf8'), '1234567890\n[mayu: output truncated at 10 bytes]\n');
      assert.equal(f.dropped, 7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rate limiter: a burst, then the rate', () => {
    let now = 0;
    const r = new RateLimiter(10, 3, () => now);
    assert.deepEqual([r.take(), r.take(), r.take(), r.take()], [true, true, true, false]);
    now = 100;
    assert.deepEqual([r.take(), r.take()], [true, false]);
  });

  it('settlesWithin leaves no timer behind', async () => {
    assert.equal(await settlesWithin(Promise.resolve(), 10_000), true);
    assert.equal(await settlesWithin(new Promise(() => {}), 5), false);
    assert.equal(await settlesWithin(Promise.reject(new Error('x')), 5), true);
  });
});
