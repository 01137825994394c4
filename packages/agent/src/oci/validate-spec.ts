import type { ErrorObject } from 'ajv';
import { formatValue, MayuError } from '@mayu/protocol';
import { validateProcess as processValidator, validateSpec as specValidator } from '../gen/oci-validators.js';
import type { OciProcess, OciSpec } from './types.js';

/**
 * A validator generated ahead of time by scripts/gen-validators.mjs (ajv
 * standalone code from spec-schema.ts): nothing is compiled in the guest.
 */
interface Validator {
  (doc: unknown): boolean;
  errors?: ErrorObject[] | null;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** One line per problem: the JSON pointer, what is wrong, and the value found. */
export function describeSpecErrors(doc: unknown, errors: ErrorObject[], base = ''): string[] {
  return errors.slice(0, 8).map((e) => {
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      return `${base}${e.instancePath}/${key}: is not supported in a mayu guest`;
    }
    if (e.keyword === 'required') {
      return `${base}${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}: is required`;
    }
    return `${base}${e.instancePath || '/'}: ${e.message ?? 'is invalid'} (got ${formatValue(valueAt(doc, e.instancePath))})`;
  });
}

function check<T>(validate: Validator, doc: unknown, what: string, base: string): T {
  if (validate(doc)) return doc as T;
  const problems = describeSpecErrors(doc, [...(validate.errors ?? [])], base);
  throw new MayuError('ERR_INVALID_ARGUMENT', `invalid ${what}: ${problems.join('; ')}`, { details: { problems } });
}

/** Validates a container's OCI spec; ERR_INVALID_ARGUMENT names each JSON pointer and value. */
export function validateSpec(doc: unknown): OciSpec {
  return check<OciSpec>(specValidator as Validator, doc, 'OCI spec', '');
}

/** Validates the process of an exec (pointers are relative to /process). */
export function validateProcess(doc: unknown): OciProcess {
  return check<OciProcess>(processValidator as Validator, doc, 'OCI process', '/process');
}
