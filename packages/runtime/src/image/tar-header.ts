import { MayuError } from '@mayu/protocol';

/** One 512-byte tar header block, decoded (ustar, GNU and v7 layouts). */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

export const BLOCK = 512;

function badTar(message: string): MayuError {
  return new MayuError('ERR_INVALID_ARGUMENT', `not a valid tar archive: ${message}`);
}

/** Text up to the first NUL of a fixed-size field (UTF-8). */
function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/**
 * A numeric field: octal ASCII (NUL/space padded), or GNU base-256 (the high
 * bit of the first byte set; two's complement, so 0xff... is negative).
 */
export function numeric(block: Buffer, start: number, length: number, field: string): number {
  const bytes = block.subarray(start, start + length);
  const first = bytes[0] ?? 0;
  if (first & 0x80) {
    let value = BigInt(first & 0x7f) - (first & 0x40 ? 0x80n : 0n);
    for (const b of bytes.subarray(1)) value = (value << 8n) | BigInt(b);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw badTar(`header field ${field} is out of range (${value})`);
    }
    return Number(value);
  }
  const digits = bytes
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw badTar(`header field ${field} is not an octal number (${JSON.stringify(digits)})`);
  const value = parseInt(digits, 8);
  if (!Number.isSafeInteger(value)) throw badTar(`header field ${field} is out of range (${digits})`);
  return value;
}

/** Whether the header's checksum matches (unsigned, or the signed sum some old tars wrote). */
function checksumOk(block: Buffer): boolean {
  const stored = numeric(block, 148, 8, 'chksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

export function isZeroBlock(block: Buffer): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** Decodes a header block; `offset` (its place in the stream) is for the error message. */
export function parseHeader(block: Buffer, offset: number): RawHeader {
  if (!checksumOk(block)) throw badTar(`bad header checksum at byte ${offset}`);
  const magic = block.subarray(257, 263).toString('latin1');
  let name = text(block, 0, 100);
  // POSIX ustar keeps a path prefix at 345; GNU ("ustar  ") keeps times there.
  if (magic === 'ustar\0') {
    const prefix = text(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const mtime = numeric(block, 136, 12, 'mtime');
  return {
    name,
    mode: numeric(block, 100, 8, 'mode'),
    uid: numeric(block, 108, 8, 'uid'),
    gid: numeric(block, 116, 8, 'gid'),
    size: numeric(block, 124, 12, 'size'),
    mtime: Math.max(0, mtime),
    typeflag: String.fromCharCode(block[156]),
    linkname: text(block, 157, 100),
  };
}

/** PAX extended header records ("<length> <key>=<value>\n"), as a map. */
export function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, pos);
    const lengthText = space < 0 ? '' : data.subarray(pos, space).toString('latin1');
    const length = /^[0-9]{1,8}$/.test(lengthText) ? Number(lengthText) : NaN;
    const end = pos + length;
    if (!(length > space - pos + 1) || end > data.length || data[end - 1] !== 0x0a) {
      throw badTar(`malformed PAX record at byte ${pos} of an extended header`);
    }
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw badTar(`malformed PAX record at byte ${pos} of an extended header`);
    records.set(record.subarray(0, eq).toString('utf8'), record.subarray(eq + 1).toString('utf8'));
    pos = end;
  }
  return records;
}
