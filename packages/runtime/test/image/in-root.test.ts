import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryComponents, whiteoutOf } from '../../src/image/entry-path.js';
import { isPlainDirectory, resolveInRoot } from '../../src/image/in-root.js';

describe('image paths beneath the rootfs', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-inroot-'));
    root = join(dir, 'root');
    mkdirSync(join(root, 'real', 'sub'), { recursive: true });
    mkdirSync(join(dir, 'host'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('normalises entry names and refuses ".." components', () => {
    assert.deepEqual(entryComponents('./a//b/./c/', 'layer L'), ['a', 'b', 'c']);
    assert.deepEqual(entryComponents('/etc/passwd', 'layer L'), ['etc', 'passwd']);
    assert.deepEqual(entryComponents('./', 'layer L'), []);
    assert.throws(() => entryComponents('a/../../b', 'layer L'), { code: 'ERR_INVALID_ARGUMENT', message: 'layer L: entry "a/../../b" has a ".." component' });
    assert.throws(() => entryComponents('../x', 'layer L', 'hard link target'), { message: 'layer L: hard link target "../x" has a ".." component' });
  });

  it('reads whiteout names, refusing empty, "." and ".." targets', () => {
    assert.deepEqual(whiteoutOf('.wh.motd', 'layer L', 'etc/.wh.motd'), { kind: 'remove', name: 'motd' });
    assert.deepEqual(whiteoutOf('.wh..wh..opq', 'layer L', 'd/.wh..wh..opq'), { kind: 'opaque' });
    assert.deepEqual(whiteoutOf('.wh..wh.plnk', 'layer L', '.wh..wh.plnk'), { kind: 'meta' });
    assert.equal(whiteoutOf('motd', 'layer L', 'motd'), null);
    for (const bad of ['.wh.', '.wh..', '.wh...']) {
      assert.throws(() => whiteoutOf(bad, 'layer L', `a/${bad}`), { message: new RegExp(`^layer L: whiteout "a/${bad.replace(/\./g, '\\.')}" names`) });
    }
  });

  it('follows symlinks inside the root: absolute targets start at root, ".." stops there', () => {
    symlinkSync(join(dir, 'host'), join(root, 'abs'));
    symlinkSync('../../../../../../../../real', join(root, 'real', 'up'));
    symlinkSync('up/sub', join(root, 'chain'));
    assert.deepEqual(resolveInRoot(root, ['abs', 'x'], { create: true }), [...join(dir, 'host').split('/').filter(Boolean), 'x']);
    assert.ok(existsSync(join(root, dir, 'host', 'x')), 'made beneath the root');
    assert.deepEqual(resolveInRoot(root, ['real', 'chain'], { create: false }), null);
    assert.deepEqual(resolveInRoot(root, ['chain'], { create: false }), null, 'chain -> up/sub: up is not in the root dir');
    symlinkSync('real/up/sub', join(root, 'chain2'));
    assert.deepEqual(resolveInRoot(root, ['chain2'], { create: false }), ['real', 'sub']);
    assert.deepEqual(resolveInRoot(root, ['..', '..', 'real'], { create: false }), ['real']);
  });

  it('stops a symlink loop, and will not pass through a file', () => {
    symlinkSync('b', join(root, 'a'));
    symlinkSync('a', join(root, 'b'));
    assert.throws(() => resolveInRoot(root, ['a', 'x'], { create: true }), { code: 'ERR_INVALID_ARGUMENT', message: /more than 40 symlinks/ });
    writeFileSync(join(root, 'file'), '');
    symlinkSync('/file', join(root, 'to-file'));
    assert.throws(() => resolveInRoot(root, ['to-file', 'x'], { create: true }), { message: /"file" is not a directory/ });
    assert.equal(resolveInRoot(root, ['to-file'], { create: false }), null);
  });

  it('tells a plain directory chain from one through a symlink', () => {
    symlinkSync('real', join(root, 'alias'));
    assert.equal(isPlainDirectory(root, ['real', 'sub']), true);
    assert.equal(isPlainDirectory(root, ['alias', 'sub']), false);
    assert.equal(isPlainDirectory(root, []), true);
  });
});
