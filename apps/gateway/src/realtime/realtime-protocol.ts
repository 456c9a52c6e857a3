import { Type, type Static } from '@sinclair/typebox';
import type { EventMetadata, GlobalPosition, RecordedEvent } from '@meridian/domain';
import { SchemaValidationError, SchemaValidator, type ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';

/**
 * The WebSocket protocol's messages (documented for clients in realtime.gateway.ts). Every message
 * is one JSON object in a text frame with a `type` discriminator.
 */

/** A client's own request id, echoed on the replies to that request. */
const RequestId = Type.Union([Type.String({ maxLength: 128 }), Type.Integer()]);

export const SubscribeMessageSchema = Type.Object(
  {
    type: Type.Literal('subscribe'),
    channel: Type.String({ minLength: 1, maxLength: 300 }),
    /** Replay every matching event with a position strictly greater than this, then go live. */
    fromPosition: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    id: Type.Optional(RequestId),
  },
  { additionalProperties: false },
);

export const UnsubscribeMessageSchema = Type.Object(
  {
    type: Type.Literal('unsubscribe'),
    channel: Type.String({ minLength: 1, maxLength: 300 }),
    id: Type.Optional(RequestId),
  },
  { additionalProperties: false },
);

export type SubscribeMessage = Static<typeof SubscribeMessageSchema>;
export type UnsubscribeMessage = Static<typeof UnsubscribeMessageSchema>;
export type ClientMessage = SubscribeMessage | UnsubscribeMessage;
export type RequestId = Static<typeof RequestId>;

export type ErrorCode =
  | 'MALFORMED_MESSAGE'
  | 'UNKNOWN_MESSAGE_TYPE'
  | 'VALIDATION_FAILED'
  | 'INVALID_CHANNEL'
  | 'ALREADY_SUBSCRIBED'
  | 'NOT_SUBSCRIBED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'INTERNAL_ERROR';

export type ServerMessage =
  | { readonly type: 'subscribed'; readonly channel: string; readonly position: GlobalPosition; readonly id?: RequestId }
  | { readonly type: 'caught-up'; readonly channel: string; readonly position: GlobalPosition; readonly id?: RequestId }
  | { readonly type: 'unsubscribed'; readonly channel: string; readonly id?: RequestId }
  | EventMessage
  | {
      readonly type: 'error';
      readonly code: ErrorCode;
      readonly detail: string;
      readonly id?: RequestId;
      readonly channel?: string;
      readonly errors?: readonly ValidationIssue[];
    };

export interface EventMessage {
  readonly type: 'event';
  readonly channel: string;
  readonly position: GlobalPosition;
  readonly streamName: string;
  readonly revision: number;
  readonly eventId: string;
  /** The event's own type (`type` is the message's). */
  readonly eventType: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly recordedAt: string;
}

export function eventMessage(channel: string, event: RecordedEvent): EventMessage {
  return {
    type: 'event',
    channel,
    position: event.position,
    streamName: event.streamName,
    revision: event.revision,
    eventId: event.eventId,
    eventType: event.type,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt,
  };
}

export type ParsedClientMessage =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly error: Extract<ServerMessage, { type: 'error' }> };

const validator = new SchemaValidator();
const SCHEMAS = { subscribe: SubscribeMessageSchema, unsubscribe: UnsubscribeMessageSchema } as const;

/** Parses one frame. Never throws: every problem becomes the error message to send back. */
export function parseClientMessage(raw: string): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return failure('MALFORMED_MESSAGE', 'A message is one JSON object: {"type": "subscribe", "channel": "…"}.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    return failure('MALFORMED_MESSAGE', 'A message is a JSON object with a string "type".');
  }
  const record = value as Record<string, unknown>;
  const type = record.type as string;
  const id = isRequestId(record.id) ? record.id : undefined;
  if (type !== 'subscribe' && type !== 'unsubscribe') {
    return failure('UNKNOWN_MESSAGE_TYPE', `Unknown message type "${type.slice(0, 64)}": expected "subscribe" or "unsubscribe".`, id);
  }
  try {
    return { ok: true, message: validator.validate(SCHEMAS[type], value) };
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    return {
      ok: false,
      error: { type: 'error', code: 'VALIDATION_FAILED', detail: `Invalid "${type}" message: ${error.message}`, errors: error.issues, ...(id !== undefined ? { id } : {}) },
    };
  }
}

function failure(code: ErrorCode, detail: string, id?: RequestId): ParsedClientMessage {
  return { ok: false, error: { type: 'error', code, detail, ...(id !== undefined ? { id } : {}) } };
}

function isRequestId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length <= 128) || Number.isInteger(value);
}
