import { MayuError } from '@mayu/protocol';
import { ByteSource } from './byte-source.js';
import { BLOCK, isZeroBlock, parseHeader, parsePax, type RawHeader } from './tar-header.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';

/** One archive member, its metadata settled (PAX and GNU long names applied). */
export interface TarEntry {
  /** The member's path as the archive spells it (not yet normalised or checked). */
  name: string;
  type: TarEntryType;
  /** Symlink target or hard link target (archive path); '' for other types. */
  linkname: string;
  /** Content bytes (0 for everything but files). */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (PAX may give a fraction). */
  mtime: number;
  /**
   * The content, chunk by chunk, exactly `size` bytes; throws if the archive
   * ends early. Read it before asking for the next entry, or leave it (skipped).
   */
  body: AsyncIterable<Buffer>;
}

/** The largest PAX extended header or GNU long name/link accepted. */
export const MAX_META_HEADER = 1 << 20;

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/** Keys of PAX headers that we apply; the others are ignored. */
const PAX_KEYS = ['path', 'linkpath', 'size', 'uid', 'gid', 'mtime'];

interface Pending {
  pax: Map<string, string>;
  longName?: string;
  longLink?: string;
}

function badTar(message: string): MayuError {
  return new MayuError('ERR_INVALID_ARGUMENT', `not a valid tar archive: ${message}`);
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

function paxNumber(records: Map<string, string>, key: string, name: string, fraction = false): number | undefined {
  const v = records.get(key);
  if (v === undefined) return undefined;
  const ok = fraction ? /^-?[0-9]{1,16}(\.[0-9]*)?$/.test(v) : /^[0-9]{1,16}$/.test(v);
  const n = Number(v);
  if (!ok || !Number.isSafeInteger(Math.trunc(n))) throw badTar(`entry ${JSON.stringify(name)}: PAX ${key}=${JSON.stringify(v.slice(0, 40))} is not a valid number`);
  return n;
}

/** Applies the pending PAX and GNU long-name data to a header and names its type. */
function settle(h: RawHeader, pending: Pending, globals: Map<string, string>): Omit<TarEntry, 'body'> {
  const pax = new Map([...globals, ...pending.pax].filter(([k, v]) => PAX_KEYS.includes(k) && v !== ''));
  const name = pax.get('path') ?? pending.longName ?? h.name;
  const type = TYPES[h.typeflag];
  if (!type) {
    const what = h.typeflag === 'S' || pending.pax.has('GNU.sparse.map') || pending.pax.has('GNU.sparse.major') ? 'a sparse file' : `of type ${JSON.stringify(h.typeflag)}`;
    throw new MayuError('ERR_INVALID_ARGUMENT', `tar entry ${JSON.stringify(name)} is ${what}, which mayu does not unpack`);
  }
  if ([...pending.pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
    throw new MayuError('ERR_INVALID_ARGUMENT', `tar entry ${JSON.stringify(name)} is a sparse file, which mayu does not unpack`);
  }
  const size = paxNumber(pax, 'size', name) ?? h.size;
  if (size < 0) throw badTar(`entry ${JSON.stringify(name)} has a negative size`);
  return {
    name,
    type,
    linkname: type === 'symlink' || type === 'hardlink' ? (pax.get('linkpath') ?? pending.longLink ?? h.linkname) : '',
    // Like Go's archive/tar: links, devices, FIFOs and directories carry no data.
    size: type === 'file' ? size : 0,
    mode: h.mode,
    uid: paxNumber(pax, 'uid', name) ?? h.uid,
    gid: paxNumber(pax, 'gid', name) ?? h.gid,
    mtime: Math.max(0, paxNumber(pax, 'mtime', name, true) ?? h.mtime),
  };
}

/** The data of a PAX header or GNU long name/link, bounded, with its padding skipped. */
async function metaData(src: ByteSource, h: RawHeader, previous: string): Promise<Buffer> {
  if (h.size > MAX_META_HEADER) {
    throw badTar(`extended header (type ${h.typeflag}) after ${previous} is ${h.size} bytes, more than ${MAX_META_HEADER}`);
  }
  const data = await src.read(h.size);
  const pad = padding(h.size);
  if (data.length < h.size || (await src.skip(pad)) < pad) throw badTar(`the archive is truncated in an extended header after ${previous}`);
  return data;
}

/**
 * Reads a tar stream entry by entry (ustar, GNU long names 'L'/'K', PAX 'x'
 * and 'g' headers, base-256 numbers). Stops at the end-of-archive block;
 * an archive cut short inside an entry is an error naming the entry.
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
  const src = new ByteSource(source);
  const globals = new Map<string, string>();
  let pending: Pending = { pax: new Map() };
  let previous = 'the start of the archive';
  for (;;) {
    const at = src.offset;
    const block = await src.read(BLOCK);
    const hasPending = pending.pax.size > 0 || pending.longName !== undefined || pending.longLink !== undefined;
    if (block.length === 0 && !hasPending) return;
    if (block.length < BLOCK) throw badTar(`the archive is truncated in the header after ${previous}`);
    if (isZeroBlock(block)) {
      if (hasPending) throw badTar(`an extended header after ${previous} is followed by the end of the archive`);
      return;
    }
    const h = parseHeader(block, at);
    if (h.typeflag === 'x' || h.typeflag === 'g') {
      const records = parsePax(await metaData(src, h, previous));
      for (const [k, v] of records) (h.typeflag === 'g' ? globals : pending.pax).set(k, v);
      continue;
    }
    if (h.typeflag === 'L' || h.typeflag === 'K') {
      const data = await metaData(src, h, previous);
      const nul = data.indexOf(0);
      const value = data.subarray(0, nul < 0 ? data.length : nul).toString('utf8');
      if (h.typeflag === 'L') pending.longName = value;
      else pending.longLink = value;
      continue;
    }
    const entry = settle(h, pending, globals);
    pending = { pax: new Map() };
    previous = `entry ${JSON.stringify(entry.name)}`;
    const state = { left: entry.size, done: false };
    yield { ...entry, body: body(src, entry, state) };
    state.done = true;
    const rest = state.left + padding(entry.size);
    if ((await src.skip(rest)) < rest) throw truncated(entry, state.left);
  }
}

function truncated(entry: Omit<TarEntry, 'body'>, left: number): MayuError {
  return badTar(`the archive is truncated in entry ${JSON.stringify(entry.name)} (${entry.size} bytes, ${entry.size - left} present)`);
}

async function* body(src: ByteSource, entry: Omit<TarEntry, 'body'>, state: { left: number; done: boolean }): AsyncGenerator<Buffer> {
  while (state.left > 0) {
    if (state.done) throw new MayuError('ERR_INTERNAL', `tar entry ${JSON.stringify(entry.name)} read after the next entry`);
    const chunk = await src.chunk(state.left);
    if (!chunk) throw truncated(entry, state.left);
    state.left -= chunk.length;
    yield chunk;
  }
}
