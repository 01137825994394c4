import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPathFd } from '../../src/storage/path-fd.js';

describe('O_PATH fds for mount sources and targets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-pathfd-'));
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'f'), 'x');
    symlinkSync(join(dir, 'd'), join(dir, 'link-to-dir'));
    symlinkSync(join(dir, 'f'), join(dir, 'link-to-file'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opens directories and files without following a symlink in the last component', () => {
    const d = openPathFd(join(dir, 'd'), 'directory');
    assert.ok(d.stats.isDirectory());
    d.close();
    const f = openPathFd(join(dir, 'f'), 'directory-or-file');
    assert.ok(f.stats.isFile());
    f.close();
    assert.throws(() => openPathFd(join(dir, 'link-to-dir'), 'directory'), { code: 'ERR_INVALID_ARGUMENT', message: /is a symlink or not a directory/ });
    assert.throws(() => openPathFd(join(dir, 'link-to-file'), 'directory-or-file'), { message: /is a symlink/ });
    assert.throws(() => openPathFd(join(dir, 'f'), 'directory'), { message: /not a directory/ });
    assert.throws(() => openPathFd(join(dir, 'missing'), 'file'), { message: /does not exist/ });
  });
});
