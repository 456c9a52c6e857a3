import { Type, type Static } from '@sinclair/typebox';
import type { ApprovalDecision, EventMetadata, GlobalPosition, RecordedEvent } from '@meridian/domain';
import { SchemaValidationError, SchemaValidator, type ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import { PostConversationMessageRequestSchema, ResolveApprovalRequestSchema } from '../conversations/conversation.schema';

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

/** Same rule as the ids of conversations created over HTTP; approval ids are the runtime's UUIDs. */
const Id = (description: string) => Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', description });

/**
 * A person's message in a conversation: `POST /api/v1/conversations/:id/messages` over the socket.
 * The fields the HTTP body has are validated by the very same schemas.
 */
export const PostMessageMessageSchema = Type.Object(
  {
    type: Type.Literal('message'),
    conversationId: Id('The conversation to post in'),
    content: PostConversationMessageRequestSchema.properties.content,
    requestId: Type.Optional(RequestId),
  },
  { additionalProperties: false },
);

/** A decision on an approval an agent asked for: `POST /api/v1/conversations/:id/approvals/:approvalId`. */
export const ApprovalMessageSchema = Type.Object(
  {
    type: Type.Literal('approval'),
    conversationId: Id('The conversation the approval was asked in'),
    approvalId: Id('The pending approval'),
    decision: ResolveApprovalRequestSchema.properties.decision,
    comment: ResolveApprovalRequestSchema.properties.comment,
    requestId: Type.Optional(RequestId),
  },
  { additionalProperties: false },
);

export type SubscribeMessage = Static<typeof SubscribeMessageSchema>;
export type UnsubscribeMessage = Static<typeof UnsubscribeMessageSchema>;
export type PostMessageMessage = Static<typeof PostMessageMessageSchema>;
export type ApprovalMessage = Static<typeof ApprovalMessageSchema>;
export type ClientMessage = SubscribeMessage | UnsubscribeMessage | PostMessageMessage | ApprovalMessage;
export type RequestId = Static<typeof RequestId>;
/** The client messages that write (commands); their replies echo `requestId`. */
export type CommandMessageType = 'message' | 'approval';

export type ErrorCode =
  | 'MALFORMED_MESSAGE'
  | 'UNKNOWN_MESSAGE_TYPE'
  | 'VALIDATION_FAILED'
  | 'INVALID_CHANNEL'
  | 'ALREADY_SUBSCRIBED'
  | 'NOT_SUBSCRIBED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'TOO_MANY_PENDING_REQUESTS'
  | 'INTERNAL_ERROR';

/**
 * A command's error carries the same stable code as the HTTP API's problem+json for the same
 * failure (`CONVERSATION_NOT_FOUND`, `APPROVAL_ALREADY_RESOLVED`, `FORBIDDEN`…): an open set.
 */
export type CommandErrorCode = ErrorCode | (string & Record<never, never>);

export interface ErrorMessage {
  readonly type: 'error';
  readonly code: CommandErrorCode;
  readonly detail: string;
  /** The `id` of the subscribe or unsubscribe request this answers. */
  readonly id?: RequestId;
  /** The `requestId` of the message or approval this answers. */
  readonly requestId?: RequestId;
  /** The type of the command this answers, when it was recognised. */
  readonly of?: CommandMessageType;
  readonly channel?: string;
  readonly conversationId?: string;
  readonly errors?: readonly ValidationIssue[];
}

/** The write is stored; `position` is its global position (pass it as `minPosition` to read it back). */
export type AckMessage =
  | {
      readonly type: 'ack';
      readonly of: 'message';
      readonly conversationId: string;
      readonly messageId: string;
      readonly position: GlobalPosition;
      readonly correlationId: string;
      readonly requestId?: RequestId;
    }
  | {
      readonly type: 'ack';
      readonly of: 'approval';
      readonly conversationId: string;
      readonly approvalId: string;
      readonly decision: ApprovalDecision;
      readonly position: GlobalPosition;
      readonly correlationId: string;
      readonly requestId?: RequestId;
    };

/** A piece of an agent's reply while it is generated; the stored reply has id `messageId`. */
export interface TokenMessage {
  readonly type: 'token';
  readonly conversationId: string;
  readonly messageId: string;
  readonly agentId: string;
  readonly delta: string;
}

export type ServerMessage =
  | { readonly type: 'subscribed'; readonly channel: string; readonly position: GlobalPosition; readonly id?: RequestId }
  | { readonly type: 'caught-up'; readonly channel: string; readonly position: GlobalPosition; readonly id?: RequestId }
  | { readonly type: 'unsubscribed'; readonly channel: string; readonly id?: RequestId }
  | EventMessage
  | AckMessage
  | TokenMessage
  | ErrorMessage;

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
  | { readonly ok: false; readonly error: ErrorMessage };

const validator = new SchemaValidator();
const SCHEMAS = {
  subscribe: SubscribeMessageSchema,
  unsubscribe: UnsubscribeMessageSchema,
  message: PostMessageMessageSchema,
  approval: ApprovalMessageSchema,
} as const;
export type ClientMessageType = keyof typeof SCHEMAS;

/** What a gateway without a command side understands. */
export const SUBSCRIPTION_MESSAGE_TYPES: ReadonlySet<ClientMessageType> = new Set(['subscribe', 'unsubscribe']);
export const ALL_CLIENT_MESSAGE_TYPES: ReadonlySet<ClientMessageType> = new Set(['subscribe', 'unsubscribe', 'message', 'approval']);

const isCommandType = (type: ClientMessageType): type is CommandMessageType => type === 'message' || type === 'approval';

/**
 * Parses one frame. Never throws: every problem becomes the error message to send back. `accepted`
 * are the types this server takes (`message` and `approval` need a command side).
 */
export function parseClientMessage(raw: string, accepted: ReadonlySet<ClientMessageType> = ALL_CLIENT_MESSAGE_TYPES): ParsedClientMessage {
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
  if (!(accepted as ReadonlySet<string>).has(type)) {
    // Which request id field the client meant is unknown: echo whichever it sent.
    const echo = { ...(isRequestId(record.id) ? { id: record.id } : {}), ...(isRequestId(record.requestId) ? { requestId: record.requestId } : {}) };
    const expected = [...accepted].map((t) => `"${t}"`).join(', ');
    return failure('UNKNOWN_MESSAGE_TYPE', `Unknown message type "${type.slice(0, 64)}": expected one of ${expected}.`, echo);
  }
  const known = type as ClientMessageType;
  // Subscriptions carry `id`, commands `requestId` (with `of`, so a client without ids can still tell).
  const echo = isCommandType(known)
    ? { of: known, ...(isRequestId(record.requestId) ? { requestId: record.requestId } : {}) }
    : isRequestId(record.id)
      ? { id: record.id }
      : {};
  try {
    return { ok: true, message: validator.validate(SCHEMAS[known], value) };
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    return failure('VALIDATION_FAILED', `Invalid "${known}" message: ${error.message}`, { ...echo, errors: error.issues });
  }
}

function failure(code: ErrorCode, detail: string, extra: Omit<ErrorMessage, 'type' | 'code' | 'detail'> = {}): ParsedClientMessage {
  return { ok: false, error: { type: 'error', code, detail, ...extra } };
}

function isRequestId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length <= 128) || Number.isInteger(value);
}
