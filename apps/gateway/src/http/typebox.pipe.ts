import { Injectable, PipeTransform } from '@nestjs/common';
import type { Static, TSchema } from '@sinclair/typebox';
import { SchemaValidator } from '@meridian/infrastructure/validation/schema-validator';
import { HttpProblem } from './problem-details';

/** Validates a JSON body against its TypeBox schema (unknown fields, wrong types → 400). */
@Injectable()
export class TypeBoxBodyPipe<S extends TSchema> implements PipeTransform<unknown, Static<S>> {
  private readonly validator = new SchemaValidator();

  constructor(private readonly schema: S) {}

  transform(value: unknown): Static<S> {
    if (Buffer.isBuffer(value)) {
      throw new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', 'This route accepts application/json bodies only.');
    }
    if (value === undefined) {
      throw new HttpProblem(400, 'VALIDATION_FAILED', 'A JSON body is required.', { errors: [{ path: '', message: 'is required' }] });
    }
    return this.validator.validate(this.schema, value);
  }
}

/** Validates and coerces query strings (numbers, defaults). */
@Injectable()
export class TypeBoxQueryPipe<S extends TSchema> implements PipeTransform<unknown, Static<S>> {
  private readonly validator = new SchemaValidator({ coerceTypes: true, useDefaults: true });

  constructor(private readonly schema: S) {}

  transform(value: unknown): Static<S> {
    return this.validator.validate(this.schema, { ...(value as Record<string, unknown>) });
  }
}
