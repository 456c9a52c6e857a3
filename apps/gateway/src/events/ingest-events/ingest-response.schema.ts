import { Type } from '@sinclair/typebox';

export const IngestResponseSchema = Type.Object({
  accepted: Type.Integer({ description: 'Events stored by this request' }),
  duplicates: Type.Integer({ description: 'Events already stored before (same source and id), not stored again' }),
  position: Type.Integer({ description: 'Global position of the last event stored (0 if none): wait for it to be projected' }),
});
