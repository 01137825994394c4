import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mountCommand, passedFd } from './mount-command.js';
import { unmount } from './host-mounts.js';
import { openPathFd } from './path-fd.js';

/**
 * Per-container writable layers over read-only images, kept in one
 * size-limited tmpfs per sandbox (`<state>/scratch`), so that a container
 * never writes into the image cache (or a user's rootfs directory) and a
 * guest cannot fill the host's disk or /run: it is limited to `sizeMib`.
 */
export class WritableLayers {
  private mounted = false;

  constructor(
    private readonly dir: string,
    private readonly sizeMib: number,
  ) {}

  /**
   * Mounts an overlay of `lower` (never written) with a fresh upper layer
   * onto `target` (a new directory in a host-only tree). Layers are given to
   * overlayfs as O_PATH fds, so no path is re-resolved.
   */
  async add(id: string, lower: string, target: string): Promise<void> {
    await this.ensureMounted();
    const base = join(this.dir, id);
    mkdirSync(join(base, 'upper'), { recursive: true, mode: 0o755 });
    mkdirSync(join(base, 'work'), { mode: 0o700 });
    mkdirSync(target, { recursive: true, mode: 0o700 });
    const fds = [lower, join(base, 'upper'), join(base, 'work'), target].map((p) => openPathFd(p, 'directory'));
    try {
      const options = `lowerdir=${passedFd(0)},upperdir=${passedFd(1)},workdir=${passedFd(2)},nosuid,nodev`;
      await mountCommand(
        'mount',
        ['-t', 'overlay', '-o', options, 'overlay', passedFd(3)],
        fds.map((f) => f.fd),
      );
    } catch (err) {
      rmSync(base, { recursive: true, force: true });
      await unmount(target);
      throw err;
    } finally {
      for (const f of fds) f.close();
    }
  }

  /** Unmounts a container's overlay and drops its upper layer. */
  async remove(id: string, target: string): Promise<void> {
    await unmount(target);
    rmSync(join(this.dir, id), { recursive: true, force: true });
  }

  private async ensureMounted(): Promise<void> {
    if (this.mounted) return;
    mkdirSync(this.dir, { mode: 0o700 });
    await mountCommand('mount', ['-t', 'tmpfs', '-o', `size=${this.sizeMib}m,mode=0700,nosuid,nodev`, 'mayu-scratch', this.dir]);
    this.mounted = true;
  }
}
