import { invalidArgument } from '@mayu/protocol';

/** The parts of an OCI image config that decide how a container runs. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

/** The run defaults of an image that has none (a plain root filesystem). */
export function emptyConfig(): ImageConfig {
  return { entrypoint: [], cmd: [], env: [], workingDir: '', user: '' };
}

function strings(raw: Record<string, unknown>, key: string, where: string): string[] {
  const v = raw[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalidArgument(`${where} config.${key}`, v, 'must be an array of strings');
  return v;
}

function string(raw: Record<string, unknown>, key: string, where: string): string {
  const v = raw[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalidArgument(`${where} config.${key}`, v, 'must be a string');
  return v;
}

/** The run defaults of an image config JSON document; `where` (its digest) names it in errors. */
export function parseImageConfig(doc: unknown, where: string): ImageConfig {
  const raw = (doc as { config?: unknown } | null)?.config;
  if (raw === undefined || raw === null) return emptyConfig();
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument(`${where} config`, raw, 'must be an object');
  const r = raw as Record<string, unknown>;
  return {
    entrypoint: strings(r, 'Entrypoint', where),
    cmd: strings(r, 'Cmd', where),
    env: strings(r, 'Env', where),
    workingDir: string(r, 'WorkingDir', where),
    user: string(r, 'User', where),
  };
}
