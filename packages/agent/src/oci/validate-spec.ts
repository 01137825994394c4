import type { ErrorObject } from 'ajv';
import { formatValue, MayuError } from '@mayu/protocol';
import { validateProcess as processValidator, validateSpec as specValidator } from '../gen/oci-validators.js';
import { PROCESS_SCHEMA, SPEC_SCHEMA } from './spec-schema.js';
import type { OciProcess, OciSpec } from './types.js';

/**
 * A validator generated ahead of time by scripts/gen-validators.mjs (ajv
 * standalone code from spec-schema.ts): nothing is compiled in the guest.
 */
interface Validator {
  (doc: unknown): boolean;
  errors?: ErrorObject[] | null;
}

function unescapePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

function valueAt(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[unescapePointer(part)];
  }
  return cur;
}

/** The schema node whose keyword failed, from the error's schema path ("#/properties/.../enum"). */
function nodeAt(schema: object, schemaPath: string): Record<string, unknown> {
  let node: unknown = schema;
  for (const part of schemaPath.split('/').slice(1, -1)) {
    if (node === null || typeof node !== 'object') return {};
    node = (node as Record<string, unknown>)[unescapePointer(part)];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : {};
}

/**
 * What is wrong, in words. A node with `refused` (spec-schema.ts) gives the
 * reason its `not` failed; an enum lists its values, less one such a `not`
 * refuses.
 */
function problem(e: ErrorObject, schema: object): string {
  const node = nodeAt(schema, e.schemaPath);
  if (e.keyword === 'not' && typeof node.refused === 'string') return node.refused;
  if (e.keyword === 'enum') {
    const refusedValue = (node.not as { const?: unknown } | undefined)?.const;
    const values = (e.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== refusedValue);
    return `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return e.message ?? 'is invalid';
}

/** One line per problem: the JSON pointer, what is wrong, and the value found. */
export function describeSpecErrors(doc: unknown, errors: ErrorObject[], base = '', schema: object = SPEC_SCHEMA): string[] {
  return errors.slice(0, 8).map((e) => {
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      return `${base}${e.instancePath}/${key}: is not supported in a mayu guest`;
    }
    if (e.keyword === 'required') {
      return `${base}${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}: is required`;
    }
    return `${base}${e.instancePath || '/'}: ${problem(e, schema)} (got ${formatValue(valueAt(doc, e.instancePath))})`;
  });
}

function check<T>(validate: Validator, schema: object, doc: unknown, what: string, base: string): T {
  if (validate(doc)) return doc as T;
  const problems = describeSpecErrors(doc, [...(validate.errors ?? [])], base, schema);
  throw new MayuError('ERR_INVALID_ARGUMENT', `invalid ${what}: ${problems.join('; ')}`, { details: { problems } });
}

/** Validates a container's OCI spec; ERR_INVALID_ARGUMENT names each JSON pointer and value. */
export function validateSpec(doc: unknown): OciSpec {
  return check<OciSpec>(specValidator as Validator, SPEC_SCHEMA, doc, 'OCI spec', '');
}

/** Validates the process of an exec (pointers are relative to /process). */
export function validateProcess(doc: unknown): OciProcess {
  return check<OciProcess>(processValidator as Validator, PROCESS_SCHEMA, doc, 'OCI process', '/process');
}
