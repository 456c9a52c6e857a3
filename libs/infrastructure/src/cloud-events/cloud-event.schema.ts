import { Type, type Static } from '@sinclair/typebox';

/**
 * A CloudEvent in structured JSON (CloudEvents 1.0, JSON format), whichever protocol binding
 * carried it (HTTP, Kafka): binary-mode attributes are gathered into this shape before validation.
 * Extension attributes are allowed as the spec names them (lower-case letters and digits, at most
 * 20) with primitive values; anything else is an unknown field and rejected.
 */
export const CloudEventSchema = Type.Object(
  {
    specversion: Type.Literal('1.0'),
    id: Type.String({ minLength: 1, maxLength: 256 }),
    source: Type.String({ minLength: 1, maxLength: 1024, format: 'uri-reference' }),
    type: Type.String({ minLength: 1, maxLength: 256 }),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    time: Type.Optional(Type.String({ format: 'date-time' })),
    datacontenttype: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    dataschema: Type.Optional(Type.String({ format: 'uri' })),
    data: Type.Optional(Type.Unknown()),
    data_base64: Type.Optional(Type.String({ contentEncoding: 'base64' })),
  },
  {
    $id: 'CloudEvent',
    // Extension names, excluding the core attributes (patternProperties would apply to them too).
    patternProperties: {
      '^(?!(?:specversion|id|source|type|subject|time|datacontenttype|dataschema|data)$)[a-z0-9]{1,20}$': Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
    },
    additionalProperties: false,
  },
);
export type CloudEventInput = Static<typeof CloudEventSchema>;

export const CloudEventBatchSchema = Type.Array(CloudEventSchema, { minItems: 1 });
