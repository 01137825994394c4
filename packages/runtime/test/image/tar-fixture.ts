// Test-only tar writer: makes well-formed and hostile archives byte by byte.
import { gzipSync } from 'node:zlib';

export type FixtureType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface FixtureEntry {
  name: string;
  type?: FixtureType;
  /** A raw typeflag, overriding `type` ('S', 'x'...). */
  flag?: string;
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** PAX records in an 'x' header just before the entry. */
  pax?: Record<string, string>;
  /** PAX records in a 'g' (global) header just before the entry. */
  globalPax?: Record<string, string>;
  /** Name and linkname in GNU 'L'/'K' headers. */
  gnuLong?: boolean;
  /** size, uid and gid in GNU base-256. */
  base256?: boolean;
}

const FLAGS: Record<FixtureType, string> = { file: '0', dir: '5', symlink: '2', hardlink: '1', char: '3', block: '4', fifo: '6' };

interface HeaderFields {
  name: string;
  flag: string;
  size: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  base256?: boolean;
}

function number(b: Buffer, off: number, len: number, n: number, base256 = false): void {
  if (!base256) {
    b.write(n.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
    return;
  }
  b[off] = 0x80;
  let v = BigInt(n);
  for (let i = off + len - 1; i > off; i--, v >>= 8n) b[i] = Number(v & 0xffn);
}

/** One 512-byte ustar header; names longer than 100 bytes are cut (as real writers do, with a PAX path). */
export function header(f: HeaderFields): Buffer {
  const b = Buffer.alloc(512);
  Buffer.from(f.name).copy(b, 0, 0, 100);
  number(b, 100, 8, f.mode ?? (f.flag === '5' ? 0o755 : 0o644));
  number(b, 108, 8, f.uid ?? 0, f.base256);
  number(b, 116, 8, f.gid ?? 0, f.base256);
  number(b, 124, 12, f.size, f.base256);
  number(b, 136, 12, f.mtime ?? 1_700_000_000);
  b.write(f.flag, 156, 1, 'latin1');
  Buffer.from(f.linkname ?? '').copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

const pad = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** PAX records: "<len> key=value\n", the length counting itself. */
export function paxRecords(records: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(records).map(([k, v]) => {
      const rest = Buffer.byteLength(` ${k}=${v}\n`);
      let len = rest + 1;
      while (String(len).length + rest !== len) len = String(len).length + rest;
      return Buffer.from(`${len} ${k}=${v}\n`);
    }),
  );
}

/** A metadata member (PAX 'x'/'g', GNU 'L'/'K') with its data. */
export function metaMember(flag: string, data: Buffer): Buffer {
  return Buffer.concat([header({ name: flag === 'L' || flag === 'K' ? '././@LongLink' : 'PaxHeader', flag, size: data.length }), pad(data)]);
}

/** One member: its metadata headers, header and padded content. */
export function member(e: FixtureEntry): Buffer {
  const body = Buffer.from(e.body ?? '');
  const flag = e.flag ?? FLAGS[e.type ?? 'file'];
  const parts: Buffer[] = [];
  if (e.globalPax) parts.push(metaMember('g', paxRecords(e.globalPax)));
  if (e.pax) parts.push(metaMember('x', paxRecords(e.pax)));
  if (e.gnuLong) {
    parts.push(metaMember('L', Buffer.from(`${e.name}\0`)));
    if (e.linkname) parts.push(metaMember('K', Buffer.from(`${e.linkname}\0`)));
  }
  parts.push(header({ ...e, flag, size: body.length }), pad(body));
  return Buffer.concat(parts);
}

/** A whole archive, ended by two zero blocks. */
export function tarball(entries: FixtureEntry[]): Buffer {
  return Buffer.concat([...entries.map(member), Buffer.alloc(1024)]);
}

export const gzip = (buf: Buffer): Buffer => gzipSync(buf);

/** An async source yielding `buf` in pieces of `size` bytes (to exercise chunk boundaries). */
export async function* chunked(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
