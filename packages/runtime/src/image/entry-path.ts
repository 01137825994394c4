import { MayuError } from '@mayu/protocol';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** AUFS metadata (".wh..wh.plnk" and the like): never extracted, never applied. */
const WHITEOUT_META_PREFIX = '.wh..wh.';

/**
 * The path components of an archive name, confined to the archive: leading
 * "./" and "/" are dropped, "." and empty components too, and a ".."
 * component is refused. [] is the archive's root. `where` names the layer or
 * archive in the error.
 */
export function entryComponents(name: string, where: string, field = 'entry'): string[] {
  if (name.includes('\0')) throw refused(where, field, name, 'contains a NUL byte');
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw refused(where, field, name, 'has a ".." component');
  return parts;
}

export type Whiteout = { kind: 'opaque' } | { kind: 'remove'; name: string } | { kind: 'meta' };

/** What a base name means as an OCI whiteout; null for an ordinary name. */
export function whiteoutOf(base: string, where: string, entry: string): Whiteout | null {
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque' };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw refused(where, 'whiteout', entry, `names ${JSON.stringify(name)}, which is not a file name`);
  }
  return { kind: 'remove', name };
}

function refused(where: string, field: string, name: string, problem: string): MayuError {
  return new MayuError('ERR_INVALID_ARGUMENT', `${where}: ${field} ${JSON.stringify(name)} ${problem}`, { details: { field, value: name } });
}
