import { Type } from '@sinclair/typebox';

/** `?limit=&cursor=` on every list, plus `minPosition` to read one's own writes. */
export const pageQueryFields = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  minPosition: Type.Optional(Type.Integer({ minimum: 0, description: 'Wait until the read models have reached this position' })),
};

export const ItemQuerySchema = Type.Object(
  { minPosition: Type.Optional(Type.Integer({ minimum: 0, description: 'Wait until the read models have reached this position' })) },
  { additionalProperties: false },
);

export const PageQuerySchema = Type.Object(pageQueryFields, { additionalProperties: false });
