import { mkdirSync } from 'node:fs';
import { execa } from 'execa';
import { MayuError, type mountWire } from '@mayu/protocol';
import { mountsUnder } from '@mayu/runtime';

/**
 * Mounts the root filesystem containerd prepared (usually an overlay of its
 * snapshotter's layers) on the bundle's rootfs directory, as runc's shim does.
 */
export async function mountRootfs(mounts: mountWire.Mount[], target: string): Promise<void> {
  mkdirSync(target, { recursive: true });
  for (const m of mounts) {
    const args = ['-t', m.type || 'none', ...(m.options.length ? ['-o', m.options.join(',')] : []), m.source, target];
    try {
      await execa('mount', args);
    } catch (err) {
      throw new MayuError('ERR_INTERNAL', `cannot mount the rootfs (${m.type} ${m.source}) on ${target}: ${(err as { stderr?: string }).stderr || (err as Error).message}`, { cause: err });
    }
  }
}

/** Unmounts whatever is mounted on `target` (lazily, so a busy mount cannot block a delete). */
export async function unmountRootfs(target: string): Promise<void> {
  const parent = target.replace(/\/[^/]+\/?$/, '');
  while (mountsUnder(parent).includes(target)) {
    await execa('umount', ['-l', target]).catch(() => {});
    if (mountsUnder(parent).includes(target)) await new Promise((r) => setTimeout(r, 50));
    else break;
  }
}
