import { GUEST_SHARE_DIRS, type ShareArea } from '@mayu/protocol';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { mountCommand } from './mount-command.js';
import { bindMount, detach, remount, unmount, type BindOptions } from './host-mounts.js';

export type { ShareArea };

/**
 * What a sandbox exports to its guest, built as Kata does since
 * CVE-2020-2023/2024: every mount is made in a host-only directory the guest
 * never sees (`<state>/fs`, a shared mount), and the guest is given a
 * read-only slave copy of each area (`<state>/export/<area>`): mounts made
 * in the host-only tree appear there by propagation, and nothing the guest
 * does can change the paths the host mounts onto or unmounts. The guest can
 * write only inside a writable mount (a rootfs or a read-write volume); it
 * cannot create, rename or swap anything in the tree itself, nor fill it.
 */
export class SharedTree {
  private constructor(
    readonly stateDir: string,
    readonly areas: readonly ShareArea[],
  ) {}

  /** The tree's layout; nothing is created until setUp(). */
  static plan(stateDir: string, areas: readonly ShareArea[]): SharedTree {
    return new SharedTree(stateDir, areas);
  }

  /** The host-only directory where mounts are made. */
  get privateRoot(): string {
    return join(this.stateDir, 'fs');
  }

  /** What the hypervisor exports for `area` (read-only to the guest). */
  exportDir(area: ShareArea): string {
    return join(this.stateDir, 'export', area);
  }

  hostPath(area: ShareArea, rel: string): string {
    return join(this.privateRoot, area, rel);
  }

  guestPath(area: ShareArea, rel: string): string {
    return `${GUEST_SHARE_DIRS[area]}/${rel}`;
  }

  /**
   * Makes the host-only tree (a shared mount) and each area's read-only slave
   * copy. Its directories are searchable by anyone (0711, never listable):
   * inside the sandbox's own 0700 state directory on the host, and in the
   * guest so that a container with a user namespace of its own (a mapped
   * root) can still reach its rootfs.
   */
  async setUp(): Promise<void> {
    const root = this.privateRoot;
    mkdirSync(root, { mode: 0o711 });
    for (const area of this.areas) mkdirSync(join(root, area), { mode: 0o711 });
    await mountCommand('mount', ['--bind', root, root]);
    await mountCommand('mount', ['--make-private', root]);
    await mountCommand('mount', ['--make-shared', root]);
    for (const area of this.areas) {
      const exported = this.exportDir(area);
      mkdirSync(exported, { recursive: true, mode: 0o711 });
      await mountCommand('mount', ['--rbind', join(root, area), exported]);
      await mountCommand('mount', ['--make-rslave', exported]);
      await remount(exported, ['bind', 'ro', 'nosuid', 'nodev']);
    }
  }

  /**
   * Binds a host `source` at `rel` in `area` (read-only when asked; with
   * the mounts under it when recursive; receiving the host's later mounts
   * under it when a slave); the guest sees it at guestPath(area, rel).
   * Returns the host-only path to release.
   */
  async bind(source: string, area: ShareArea, rel: string, o: Omit<BindOptions, 'copies'>): Promise<string> {
    const target = this.hostPath(area, rel);
    await bindMount(source, target, { ...o, copies: [join(this.exportDir(area), rel)] });
    return target;
  }

  /**
   * Applies the read-only/nosuid/nodev flags to the guest's copy of a mount
   * made at a host-only path by other means (an overlay).
   */
  async restrictCopy(area: ShareArea, rel: string, readOnly: boolean): Promise<void> {
    await remount(join(this.exportDir(area), rel), ['bind', 'nosuid', 'nodev', ...(readOnly ? ['ro'] : [])]);
  }

  /**
   * Undoes one mount made in the tree, its guest copy first (a private or
   * slave mount does not take its copy with it).
   */
  async release(target: string): Promise<void> {
    const rel = relative(this.privateRoot, target);
    const [area] = rel.split('/');
    if (area && this.areas.includes(area as ShareArea)) await detach(join(this.exportDir(area as ShareArea), relative(area, rel)));
    await unmount(target);
  }
}
