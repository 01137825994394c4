import { invalidArgument, MayuError } from '@mayu/protocol';
import { LayoutBlob, MAX_JSON_BLOB, readLayoutFile, type Descriptor } from './blob.js';
import { parseImageConfig, type ImageConfig } from './image-config.js';

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
/** Image indexes nested deeper than this are refused. */
const MAX_INDEX_DEPTH = 4;

/** An image manifest: its config and layers, bottom first. */
export interface ImageManifest {
  config: Descriptor;
  layers: Descriptor[];
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new MayuError('ERR_INVALID_ARGUMENT', `${what} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** A JSON blob, read whole (at most 4 MiB) and verified against its digest. */
function readJsonBlob(layout: string, desc: Descriptor): unknown {
  const blob = LayoutBlob.open(layout, desc);
  try {
    return parseJson(blob.readAll(MAX_JSON_BLOB), `blob ${desc.digest}`);
  } finally {
    blob.close();
  }
}

function descriptor(value: unknown, field: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string') throw invalidArgument(field, value, 'must be a descriptor with a digest');
  if (d.size !== undefined && typeof d.size !== 'number') throw invalidArgument(`${field}.size`, d.size, 'must be a number');
  if (d.mediaType !== undefined && typeof d.mediaType !== 'string') throw invalidArgument(`${field}.mediaType`, d.mediaType, 'must be a string');
  return d as Descriptor;
}

function descriptors(value: unknown, field: string): Descriptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidArgument(field, value, 'must be an array of descriptors');
  return value.map((d, i) => descriptor(d, `${field}[${i}]`));
}

/** The manifests index.json lists. */
export function readIndex(layout: string): Descriptor[] {
  const index = parseJson(readLayoutFile(layout, 'index.json'), `image layout ${layout}: index.json`) as { manifests?: unknown } | null;
  return descriptors(index?.manifests, `${layout}/index.json manifests`);
}

/** The manifest for linux/amd64 (or the first one), following image indexes. */
export function pickManifest(layout: string, list: Descriptor[], depth = 0): Descriptor {
  const wanted = list.find((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64')) ?? list[0];
  if (!wanted) throw new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout} has no manifest`);
  if (wanted.mediaType && INDEX_TYPES.includes(wanted.mediaType)) {
    if (depth >= MAX_INDEX_DEPTH) throw new MayuError('ERR_INVALID_ARGUMENT', `image layout ${layout}: image indexes nest more than ${MAX_INDEX_DEPTH} deep`);
    const index = readJsonBlob(layout, wanted) as { manifests?: unknown } | null;
    return pickManifest(layout, descriptors(index?.manifests, `${wanted.digest} manifests`), depth + 1);
  }
  return wanted;
}

/** A verified image manifest. */
export function readManifest(layout: string, desc: Descriptor): ImageManifest {
  const m = readJsonBlob(layout, desc) as { config?: unknown; layers?: unknown } | null;
  return { config: descriptor(m?.config, `${desc.digest} config`), layers: descriptors(m?.layers, `${desc.digest} layers`) };
}

/** The run defaults of a verified image config. */
export function readImageConfig(layout: string, desc: Descriptor): ImageConfig {
  return parseImageConfig(readJsonBlob(layout, desc), desc.digest);
}
