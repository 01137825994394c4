import { execa } from 'execa';
import { MayuError } from '@mayu/protocol';

/**
 * A read-only erofs image of a root filesystem directory, for a container
 * whose rootfs is a virtio-blk disk (a writable overlay goes on top inside
 * the guest). Owners and modes are kept.
 */
export async function buildRootfsImage(rootfs: string, image: string): Promise<void> {
  try {
    await execa('mkfs.erofs', ['--quiet', '-T0', image, rootfs]);
  } catch (err) {
    throw new MayuError('ERR_INTERNAL', `cannot build an erofs image of ${rootfs}: ${(err as { stderr?: string }).stderr || (err as Error).message}`, { cause: err });
  }
}
