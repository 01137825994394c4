import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, read, readSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { invalidArgument, MayuError } from '@mayu/protocol';

/** An OCI content descriptor (the fields mayu reads). */
export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

/** The largest manifest, config, index or oci-layout JSON read. */
export const MAX_JSON_BLOB = 4 << 20;

const CHUNK = 1 << 20;
const readAsync = promisify(read);

/**
 * Opens a regular file without following a symlink (ELOOP) and without
 * blocking on a FIFO (O_NONBLOCK); anything but a regular file is refused.
 */
function openRegular(path: string, what: string, missing: () => MayuError): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw missing();
    if (code === 'ELOOP') throw new MayuError('ERR_INVALID_ARGUMENT', `${what} is not a regular file (a symlink)`, { cause: err });
    throw new MayuError('ERR_INVALID_ARGUMENT', `${what} cannot be opened (${(err as Error).message})`, { cause: err });
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new MayuError('ERR_INVALID_ARGUMENT', `${what} is not a regular file`);
  }
  return { fd, size: st.size };
}

/** A file of an image layout that is not a blob (index.json, oci-layout), bounded. */
export function readLayoutFile(layout: string, name: string): Buffer {
  const what = `image layout ${layout}: ${name}`;
  const { fd, size } = openRegular(join(layout, name), what, () => new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout} lacks ${name}`));
  try {
    if (size > MAX_JSON_BLOB) throw new MayuError('ERR_INVALID_ARGUMENT', `${what} is ${size} bytes, more than ${MAX_JSON_BLOB}`);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * One blob of an image layout, open, its sha256 taken as it is read: read it
 * (`stream` or `readAll`), then `verify` before trusting what was made of it.
 */
export class LayoutBlob {
  private readonly hash: Hash = createHash('sha256');
  private hashed = 0;
  private stopped = false;
  /** The most bytes read: the descriptor's size (or the file's) and one more, to see a mismatch. */
  private readonly limit: number;

  private constructor(
    readonly desc: Descriptor,
    private readonly fd: number,
    fileSize: number,
  ) {
    this.limit = (desc.size ?? fileSize) + 1;
  }

  /** Opens the blob `desc` names: blobs and blobs/sha256 real directories, the blob a regular file. */
  static open(layout: string, desc: Descriptor): LayoutBlob {
    const hex = digestHex(desc.digest);
    for (const dir of ['blobs', 'blobs/sha256']) {
      let isDir = false;
      try {
        isDir = lstatSync(join(layout, dir)).isDirectory();
      } catch {
        // missing: said below
      }
      if (!isDir) throw new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout}: ${dir} is not a directory`);
    }
    if (desc.size !== undefined && !(Number.isSafeInteger(desc.size) && desc.size >= 0)) {
      throw invalidArgument(`descriptor ${desc.digest} size`, desc.size, 'must be a byte count');
    }
    const what = `blob ${desc.digest}`;
    const { fd, size } = openRegular(join(layout, 'blobs', 'sha256', hex), what, () => new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout} lacks blob ${desc.digest}`));
    const blob = new LayoutBlob(desc, fd, size);
    if (desc.size !== undefined && size !== desc.size) {
      blob.close();
      throw sizeMismatch(desc, size);
    }
    return blob;
  }

  /** The first `n` bytes (a compression magic), not counted as read. */
  peek(n: number): Buffer {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(this.fd, buf, 0, n, 0));
  }

  /** The blob's bytes from the start, hashed as they pass. Once. */
  async *stream(): AsyncGenerator<Buffer> {
    for (;;) {
      const want = Math.min(CHUNK, this.limit - this.hashed);
      if (want <= 0 || this.stopped) return;
      const { bytesRead, buffer } = await readAsync(this.fd, Buffer.alloc(want), 0, want, this.hashed);
      if (bytesRead === 0 || this.stopped) return;
      const chunk = buffer.subarray(0, bytesRead);
      this.hash.update(chunk);
      this.hashed += bytesRead;
      yield chunk;
    }
  }

  /** The whole blob, bounded, verified. */
  readAll(max: number): Buffer {
    if (this.limit - 1 > max) throw new MayuError('ERR_INVALID_ARGUMENT', `blob ${this.desc.digest} is ${this.limit - 1} bytes, more than ${max}`);
    const parts: Buffer[] = [];
    this.hashRest((chunk) => parts.push(Buffer.from(chunk)));
    this.verify();
    return Buffer.concat(parts);
  }

  /**
   * Reads (and hashes) what the stream left, then checks the digest and the
   * descriptor's size: a mismatch is an error naming the digest.
   */
  verify(): void {
    this.hashRest();
    if (this.desc.size !== undefined && this.hashed !== this.desc.size) throw sizeMismatch(this.desc, this.hashed);
    const actual = `sha256:${this.hash.copy().digest('hex')}`;
    if (actual !== this.desc.digest) {
      throw new MayuError('ERR_INVALID_ARGUMENT', `blob ${this.desc.digest} does not match its digest (its content is ${actual})`, {
        details: { digest: this.desc.digest, actual },
      });
    }
  }

  close(): void {
    this.stopped = true;
    closeSync(this.fd);
  }

  private hashRest(onChunk?: (chunk: Buffer) => void): void {
    this.stopped = true;
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const want = Math.min(CHUNK, this.limit - this.hashed);
      const n = want > 0 ? readSync(this.fd, buf, 0, want, this.hashed) : 0;
      if (n === 0) return;
      const chunk = buf.subarray(0, n);
      this.hash.update(chunk);
      this.hashed += n;
      onChunk?.(chunk);
    }
  }
}

/** The hex part of a sha256 digest; other algorithms are refused. */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalidArgument('digest', digest, 'must be sha256:<64 hex digits>');
  return m[1];
}

function sizeMismatch(desc: Descriptor, size: number): MayuError {
  return new MayuError('ERR_INVALID_ARGUMENT', `blob ${desc.digest} is ${size} bytes, its descriptor says ${desc.size}`, { details: { digest: desc.digest, size } });
}
