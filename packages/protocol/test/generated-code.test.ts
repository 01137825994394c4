import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

describe('generated protobuf code', () => {
  it('is what `npm run proto:gen` produces from the committed protos', function () {
    this.timeout(60000);
    const out = mkdtempSync(join(tmpdir(), 'mayu-gen-'));
    try {
      execFileSync(process.execPath, [join(root, 'scripts/gen-proto.mjs'), '--out', out], { stdio: 'pipe' });
      const committed = join(root, 'packages/protocol/src/gen');
      const want = files(out)
        .map((f) => relative(out, f))
        .sort();
      assert.deepEqual(
        files(committed)
          .map((f) => relative(committed, f))
          .sort(),
        want,
        'file list differs: run npm run proto:gen',
      );
      for (const f of want) {
        assert.equal(readFileSync(join(committed, f), 'utf8'), readFileSync(join(out, f), 'utf8'), `${f} is stale: run npm run proto:gen`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
