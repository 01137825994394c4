import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeDirSafely } from '@mayu/runtime';
import { PrivateContainerd, type ContainerdVersion } from '../helpers/containerd.js';
import { REPO_ROOT, TEST_TEMPLATE_DIR } from '../helpers/guest-factory.js';
import { progress } from './stats.js';

/**
 * A private containerd whose mayu shim is the installed one (the single
 * bundled file `scripts/install-containerd --root` writes), as containerd
 * runs it in production. `stop()` stops it and removes the staged install
 * and the VM templates made for its guest image (they would only be stale).
 */
export interface InstalledContainerd {
  ctrd: PrivateContainerd;
  /** MiB of the staged guest image's VM templates' RAM files, resident in their tmpfs (in no process's PSS). */
  templateResidentMib(): number;
  stop(): Promise<void>;
}

/** `scripts/install-containerd --root ROOT`: mayu's installed programs (single bundled files) and guest image under ROOT. */
export function stageInstall(root: string): void {
  progress('staging an install (scripts/install-containerd --root)');
  const install = spawnSync(join(REPO_ROOT, 'scripts/install-containerd'), ['--root', root, '--no-setup'], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`install-containerd failed: ${install.stderr}`);
}

export async function startInstalledContainerd(version: ContainerdVersion = '1.6'): Promise<InstalledContainerd> {
  const root = mkdtempSync('/run/mayu-bench-install-');
  try {
    stageInstall(root);
  } catch (err) {
    removeDirSafely(root);
    throw err;
  }
  // The benchmark's containerd uses the test template directory.
  const templates = (): string[] =>
    existsSync(TEST_TEMPLATE_DIR)
      ? readdirSync(TEST_TEMPLATE_DIR)
          .map((k) => join(TEST_TEMPLATE_DIR, k))
          .filter((dir) => {
            try {
              return (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { image: string[] }).image.some((i) => i.startsWith(`${root}/`));
            } catch {
              return false;
            }
          })
      : [];
  const ctrd = await PrivateContainerd.start({ version, shimDir: join(root, 'usr/local/bin'), guestImageDir: join(root, 'usr/share/mayu/guest-image') }).catch((err: unknown) => {
    removeDirSafely(root);
    throw err;
  });
  return {
    ctrd,
    templateResidentMib: () => templates().reduce((n, dir) => n + (statSync(join(dir, 'memory')).blocks * 512) / 1048576, 0),
    stop: async () => {
      try {
        await ctrd.stop();
      } finally {
        for (const dir of templates()) rmSync(dir, { recursive: true, force: true });
        removeDirSafely(root);
      }
    },
  };
}
