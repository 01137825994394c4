import { closeSync, createReadStream, lstatSync, mkdirSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MayuError } from '@mayu/protocol';
import { ByteBudget } from './byte-budget.js';
import { entryComponents } from './entry-path.js';
import { writeNewFile } from './new-file.js';
import { readTar } from './tar-reader.js';
import type { UnpackLimits } from './unpack-limits.js';

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads an OCI archive (a tar of an image layout, gzip'd or not) into `dir`,
 * a fresh private directory. An image layout holds only files and
 * directories: any other entry (symlink, hard link, device) is refused, as
 * is a name with a ".." component. As nothing but directories and files is
 * ever made, no path below `dir` can lead out of it.
 */
export async function extractOciArchive(archive: string, dir: string, limits: UnpackLimits): Promise<void> {
  const where = `OCI archive ${archive}`;
  const file: Readable = createReadStream(archive);
  const stream = isGzip(archive) ? pipeline(file, createGunzip(), () => {}) : file;
  const budget = new ByteBudget(limits.maxUnpackedBytes);
  let count = 0;
  try {
    for await (const entry of readTar(budget.count(stream, where))) {
      if (++count > limits.maxEntriesPerLayer) throw new MayuError('ERR_RESOURCE_EXHAUSTED', `${where}: has more than ${limits.maxEntriesPerLayer} entries`);
      const components = entryComponents(entry.name, where);
      if (entry.type === 'directory') {
        mkdirSync(join(dir, ...components), { recursive: true, mode: 0o700 });
        continue;
      }
      if (components.length === 0) throw new MayuError('ERR_INVALID_ARGUMENT', `${where}: entry ${JSON.stringify(entry.name)} is a ${entry.type} named like the root`);
      if (entry.type !== 'file') {
        throw new MayuError('ERR_INVALID_ARGUMENT', `${where}: entry ${JSON.stringify(entry.name)} is a ${entry.type}; an OCI archive holds only files and directories`, {
          details: { entry: entry.name, type: entry.type },
        });
      }
      mkdirSync(join(dir, ...components.slice(0, -1)), { recursive: true, mode: 0o700 });
      const path = join(dir, ...components);
      if (lstatSync(path, { throwIfNoEntry: false })?.isFile()) unlinkSync(path); // a later copy wins, as with tar
      await writeNewFile(path, entry.body);
    }
  } finally {
    stream.destroy();
    file.destroy();
  }
}
