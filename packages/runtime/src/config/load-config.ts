import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseToml, TomlError } from 'smol-toml';
import { formatValue, MayuError } from '@mayu/protocol';
import { HYPERVISOR_CONFIGS_DIR } from '../util/repo-paths.js';
import { qemuConfigProblems } from '../hypervisor/qemu/qemu-check.js';
import { migrateDeprecatedKeys } from './deprecated-keys.js';
import { configFromRaw, type RawConfig, type RuntimeConfig } from './runtime-config.js';

export const CONFIG_SCHEMA_PATH = `${HYPERVISOR_CONFIGS_DIR}/configuration.schema.json`;

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(doc: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
    validator = ajv.compile(JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as object);
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
  const s = raw.sandbox;
  const problems: string[] = [];
  if (s.default_vcpus > s.max_vcpus) problems.push(`sandbox.default_vcpus: must be at most max_vcpus (${s.max_vcpus}) (got ${s.default_vcpus})`);
  if (s.default_memory > s.max_memory) problems.push(`sandbox.default_memory: must be at most max_memory (${s.max_memory}) (got ${s.default_memory})`);
  problems.push(...qemuConfigProblems(raw));
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
  const { warnings, moved } = doc !== null && typeof doc === 'object' ? migrateDeprecatedKeys(doc as Record<string, unknown>, source) : { warnings: [], moved: new Map<string, string>() };
  let problems = describeConfigErrors(doc, validate(doc)).map((p) => {
    const key = p.split(':')[0] ?? '';
    const old = moved.get(key);
    return old ? `${p} (given as the deprecated ${old})` : p;
  });
  if (problems.length === 0) problems = crossCheck(doc as RawConfig);
  if (problems.length > 0) {
    throw new MayuError('ERR_CONFIG_INVALID', `${source}: ${problems.join('; ')}`, { details: { source, problems } });
  }
  return configFromRaw(
    doc as RawConfig,
    source,
    warnings.map((w) => `${source}: ${w}`),
  );
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
