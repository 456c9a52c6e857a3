import type { SchemaObject } from '@nestjs/swagger';
import type { TSchema } from '@sinclair/typebox';

/**
 * A TypeBox schema as an OpenAPI 3.1 schema object (3.1 schemas are JSON Schema, so the schema
 * that validates a request is the schema that documents it). The cast only bridges the
 * OpenAPI 3.0 typings of @nestjs/swagger (boolean `exclusiveMinimum`).
 */
export function openApi(schema: TSchema): SchemaObject {
  return JSON.parse(JSON.stringify(schema)) as SchemaObject;
}
