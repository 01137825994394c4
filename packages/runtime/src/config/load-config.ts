import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseToml, TomlError } from 'smol-toml';
import { formatValue, MayuError } from '@mayu/protocol';
import { HYPERVISOR_CONFIGS_DIR } from '../util/repo-paths.js';
import { configFromRaw, type RawConfig, type RuntimeConfig } from './runtime-config.js';

export const QEMU_SCHEMA_PATH = `${HYPERVISOR_CONFIGS_DIR}/qemu.schema.json`;

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(doc: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
    validator = ajv.compile(JSON.parse(readFileSync(QEMU_SCHEMA_PATH, 'utf8')) as object);
  }
  return validator(doc) ? [] : [...(validator.errors ?? [])];
}

/** The value at a JSON pointer of `doc` (for error messages). */
function valueAt(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** One line per problem, naming the key path and the bad value. */
export function describeConfigErrors(doc: unknown, errors: ErrorObject[]): string[] {
  return errors.map((e) => {
    const path = e.instancePath.split('/').slice(1).join('.');
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      return `${path ? `${path}.` : ''}${key}: unknown key`;
    }
    const value = formatValue(valueAt(doc, e.instancePath));
    if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
      return `${path}: must be one of ${allowed.join(', ')} (got ${value})`;
    }
    return `${path || '(top level)'}: ${e.message ?? 'is invalid'} (got ${value})`;
  });
}

/** Rules between keys that a JSON schema cannot say well, one line per problem. */
function crossCheck(raw: RawConfig): string[] {
  const q = raw.hypervisor.qemu;
  const problems: string[] = [];
  if (q.default_vcpus > q.max_vcpus) problems.push(`hypervisor.qemu.default_vcpus: must be at most max_vcpus (${q.max_vcpus}) (got ${q.default_vcpus})`);
  if (q.default_memory > q.max_memory) problems.push(`hypervisor.qemu.default_memory: must be at most max_memory (${q.max_memory}) (got ${q.default_memory})`);
  if (/^\d+:\d+$/.test(q.run_as) && q.shared_fs === 'virtio-9p') {
    problems.push(`hypervisor.qemu.run_as: QEMU serves the 9p share itself and must stay root with shared_fs = "virtio-9p" (got ${JSON.stringify(q.run_as)})`);
  }
  return problems;
}

/**
 * Parses and validates a configuration document (TOML). Missing keys take
 * the schema's defaults. Throws ERR_CONFIG_INVALID naming every bad key.
 */
export function parseConfig(text: string, source: string): RuntimeConfig {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    const first = (err as Error).message.split('\n')[0];
    throw new MayuError('ERR_CONFIG_INVALID', `${source}: not valid TOML${where}: ${first}`, { cause: err, details: { source } });
  }
  let problems = describeConfigErrors(doc, validate(doc));
  if (problems.length === 0) problems = crossCheck(doc as RawConfig);
  if (problems.length > 0) {
    throw new MayuError('ERR_CONFIG_INVALID', `${source}: ${problems.join('; ')}`, { details: { source, problems } });
  }
  return configFromRaw(doc as RawConfig, source);
}

/** Loads a configuration file, or the defaults when `path` is undefined. */
export function loadConfig(path?: string): RuntimeConfig {
  if (path === undefined) return parseConfig('', 'defaults');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MayuError('ERR_CONFIG_INVALID', `cannot read configuration ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { source: path },
    });
  }
  return parseConfig(text, path);
}
