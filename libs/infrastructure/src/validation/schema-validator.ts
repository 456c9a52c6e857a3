import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';

/** One problem with an input, addressed by a JSON pointer-like path (`/engine/rules/0/then`). */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

export class SchemaValidationError extends Error {
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; '));
    this.name = 'SchemaValidationError';
  }
}

function describe(error: ErrorObject): ValidationIssue {
  const base = error.instancePath;
  switch (error.keyword) {
    case 'additionalProperties':
      return { path: `${base}/${String(error.params.additionalProperty)}`, message: 'unknown field' };
    case 'required':
      return { path: `${base}/${String(error.params.missingProperty)}`, message: 'is required' };
    default:
      return { path: base, message: error.message ?? 'is invalid' };
  }
}

/**
 * JSON Schema validation (Ajv) for TypeBox schemas. The same schemas are published in the OpenAPI
 * document, so the contract that is documented is the contract that is enforced.
 */
export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly cache = new WeakMap<TSchema, ValidateFunction>();

  constructor(options: { coerceTypes?: boolean; useDefaults?: boolean } = {}) {
    this.ajv = new Ajv({
      allErrors: true,
      strict: false,
      coerceTypes: options.coerceTypes ?? false,
      useDefaults: options.useDefaults ?? false,
    });
    addFormats(this.ajv);
  }

  validate<S extends TSchema>(schema: S, value: unknown): Static<S> {
    let fn = this.cache.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.cache.set(schema, fn);
    }
    if (fn(value)) return value as Static<S>;
    const seen = new Set<string>();
    const issues = (fn.errors ?? []).map(describe).filter((i) => {
      const key = `${i.path}|${i.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    throw new SchemaValidationError(issues);
  }
}
