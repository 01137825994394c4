import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MayuError } from '@mayu/protocol';
import { LayoutBlob, type Descriptor } from './blob.js';
import type { ByteBudget } from './byte-budget.js';
import type { RootfsWriter } from './rootfs-writer.js';
import { readTar } from './tar-reader.js';

const startsWith = (buf: Buffer, magic: number[]): boolean => magic.every((b, i) => buf[i] === b);
const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

/** The blob's tar bytes: gunzipped where it starts like gzip, as is otherwise; zstd is refused. */
function tarBytes(blob: LayoutBlob): { bytes: AsyncIterable<Buffer>; stop(): void } {
  const magic = blob.peek(4);
  const { digest, mediaType } = blob.desc;
  if (startsWith(magic, ZSTD) || mediaType?.endsWith('zstd')) {
    throw new MayuError('ERR_UNIMPLEMENTED', `layer ${digest} (${mediaType ?? 'no mediaType'}) is zstd-compressed, which mayu does not unpack yet`, {
      details: { layer: digest, mediaType },
    });
  }
  if (!startsWith(magic, GZIP)) return { bytes: blob.stream(), stop: () => {} };
  const gunzip = createGunzip();
  const raw = Readable.from(blob.stream());
  pipeline(raw, gunzip, () => {});
  return { bytes: gunzip, stop: () => gunzip.destroy() };
}

/**
 * Applies the layer `desc` of the image layout `layout` onto the writer's
 * rootfs, hashing the blob as it streams. A blob that does not match its
 * digest (or size) is an error naming the digest, even where the damage
 * also broke the tar: then the rootfs must be thrown away.
 */
export async function unpackLayer(writer: RootfsWriter, layout: string, desc: Descriptor, budget: ByteBudget): Promise<void> {
  const blob = LayoutBlob.open(layout, desc);
  try {
    let failure: unknown = null;
    const tar = tarBytes(blob);
    try {
      await writer.applyLayer(desc.digest, readTar(budget.count(tar.bytes, `layer ${desc.digest}`)));
    } catch (err) {
      failure = err;
    } finally {
      tar.stop();
    }
    try {
      blob.verify();
    } catch (err) {
      if (failure && err instanceof MayuError) throw new MayuError(err.code, err.message, { cause: failure, details: err.details });
      throw err;
    }
    if (failure) throw failure;
  } finally {
    blob.close();
  }
}
