import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = fileURLToPath(new URL('../../../../', import.meta.url));

/** Every hand-written TypeScript source of the host and guest packages. */
function sources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name !== 'gen') walk(p);
      else if (e.name.endsWith('.ts')) out.push({ path: relative(PACKAGES, p), text: readFileSync(p, 'utf8') });
    }
  };
  for (const pkg of readdirSync(PACKAGES)) {
    try {
      walk(join(PACKAGES, pkg, 'src'));
    } catch {
      // not a package
    }
  }
  return out;
}

/** Files whose text matches `pattern`. */
const matching = (pattern: RegExp): string[] =>
  sources()
    .filter((s) => pattern.test(s.text))
    .map((s) => s.path)
    .sort();

/**
 * Guards that keep the isolation boundary's classes of bug from coming back:
 * the few places that may do a dangerous thing are named here, and a new
 * one fails this test until someone has looked at it (docs/security.md).
 */
describe('isolation guards: dangerous operations stay in the modules built for them', () => {
  it("host mounts are made only by the storage modules (O_PATH fds, host-only tree) and the shim's containerd rootfs", () => {
    assert.deepEqual(matching(/\b(execa|spawn|execFile|execFileSync|spawnSync)\(\s*'u?mount'/), ['runtime/src/storage/host-mounts.ts', 'shim/src/server/rootfs-mounts.ts']);
    assert.deepEqual(matching(/mountCommand\('mount'/), ['runtime/src/storage/host-mounts.ts', 'runtime/src/storage/shared-tree.ts', 'runtime/src/storage/writable-layers.ts']);
  });

  it('no image is ever extracted by tar(1): only by our in-root extractor', () => {
    assert.deepEqual(matching(/\(\s*'tar'/), []);
  });

  it('QEMU is only ever started through its launcher (setpriv: bounded capabilities, no_new_privs, parent-death signal)', () => {
    const qemu = sources().find((s) => s.path === 'runtime/src/hypervisor/qemu/qemu-hypervisor.ts')?.text ?? '';
    const spawns = qemu.match(/\bspawn\([^,]+/g) ?? [];
    assert.deepEqual(spawns, ['spawn(launch.file']);
  });

  it("9p security models come only from a share's declared attributes", () => {
    assert.deepEqual(matching(/['`][^'`\n]*security_model=/), ['runtime/src/hypervisor/qemu/args/shared-fs.ts']);
  });
});
