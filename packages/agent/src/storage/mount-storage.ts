import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { MayuError, type StorageSpec } from '@mayu/protocol';
import { MNT_DETACH, MS, sys } from '../system/sys.js';

/** 9p mount options: the largest msize QEMU accepts, page-cache for mmap. */
export const NINE_P_OPTIONS = 'trans=virtio,version=9p2000.L,msize=512000,cache=mmap';

const FLAG_OPTIONS: Record<string, number> = { ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC };

/** Splits mount options into flags and the filesystem's data string. */
export function splitOptions(options: readonly string[]): { flags: number; data: string[] } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o in FLAG_OPTIONS) flags |= FLAG_OPTIONS[o];
    else if (o !== 'rw') data.push(o);
  }
  return { flags, data };
}

/** The virtio-blk disk whose serial the host set to `serial` (/sys/block/vdX/serial). */
export function findDiskBySerial(serial: string, sysBlock = '/sys/block'): string {
  for (const dev of readdirSync(sysBlock)) {
    try {
      if (readFileSync(`${sysBlock}/${dev}/serial`, 'utf8').trim() === serial) return `/dev/${dev}`;
    } catch {
      // not a virtio disk
    }
  }
  throw new MayuError('ERR_NOT_FOUND', `no disk with serial ${JSON.stringify(serial)} in the guest`, { details: { serial } });
}

/** Mounts one storage; returns the function that unmounts it. */
export function mountStorage(s: StorageSpec): () => void {
  mkdirSync(s.mountPoint, { recursive: true });
  const { flags, data } = splitOptions(s.options);
  const m = sys();
  switch (s.driver) {
    case '9p':
      m.mount(s.source, s.mountPoint, '9p', flags, [NINE_P_OPTIONS, ...data].join(','));
      break;
    case 'virtio-fs':
      m.mount(s.source, s.mountPoint, 'virtiofs', flags, data.join(',') || null);
      break;
    case 'blk':
      m.mount(findDiskBySerial(s.source), s.mountPoint, s.fstype || 'erofs', flags, data.join(',') || null);
      break;
    case 'overlay':
      for (const o of data) {
        const m2 = /^(upperdir|workdir)=(.+)$/.exec(o);
        if (m2) mkdirSync(m2[2], { recursive: true });
      }
      m.mount('overlay', s.mountPoint, 'overlay', flags, data.join(','));
      break;
    case 'local':
      m.mount('tmpfs', s.mountPoint, 'tmpfs', flags | MS.NODEV, data.join(',') || 'mode=0755');
      break;
    case 'bind':
      m.mount(s.source, s.mountPoint, null, MS.BIND | MS.REC, null);
      if (flags & MS.RDONLY) m.mount(null, s.mountPoint, null, MS.BIND | MS.REMOUNT | MS.RDONLY, null);
      break;
  }
  return () => m.umount(s.mountPoint, MNT_DETACH);
}

/** Mounts storages in order; if one fails, the ones mounted are undone and the error names it. */
export function mountAll(storages: readonly StorageSpec[]): (() => void)[] {
  const undo: (() => void)[] = [];
  storages.forEach((s, i) => {
    try {
      undo.push(mountStorage(s));
    } catch (err) {
      unmountAll(undo);
      if (err instanceof MayuError) throw err;
      throw new MayuError('ERR_INVALID_ARGUMENT', `storages[${i}] (${s.driver} ${s.source} on ${s.mountPoint}): ${(err as Error).message}`, { cause: err });
    }
  });
  return undo;
}

/** Undoes mounts, last first; failures are ignored (a lazy unmount detaches anyway). */
export function unmountAll(undo: (() => void)[]): void {
  for (const u of undo.splice(0).reverse()) {
    try {
      u();
    } catch {
      // already gone
    }
  }
}
