import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { RecordedEvent } from '@meridian/domain';

/** Headers Meridian sets on the messages it produces. `traceparent` is W3C trace context. */
export const KAFKA_HEADERS = {
  eventId: 'meridian-event-id',
  eventType: 'meridian-event-type',
  position: 'meridian-position',
  agentId: 'meridian-agent-id',
  traceparent: 'traceparent',
  contentType: 'content-type',
} as const;

/** A header as text (the first value when repeated), or undefined. */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * A committed event as a Kafka message: keyed by `key`, the event as JSON (lossless: stored events
 * are plain JSON), its id as the message id, and its trace context in the headers.
 */
export function recordedEventMessage(event: RecordedEvent, key: string, extraHeaders: Record<string, string> = {}): Message {
  const headers: Record<string, string> = {
    [KAFKA_HEADERS.eventId]: event.eventId,
    [KAFKA_HEADERS.eventType]: event.type,
    [KAFKA_HEADERS.position]: String(event.position),
    [KAFKA_HEADERS.contentType]: 'application/json',
    ...extraHeaders,
  };
  const traceparent = (event.metadata as { traceparent?: unknown }).traceparent;
  if (typeof traceparent === 'string' && traceparent !== '') headers[KAFKA_HEADERS.traceparent] = traceparent;
  return { key, value: JSON.stringify(event), headers };
}

export class UndecodableMessageError extends Error {
  readonly code = 'UNDECODABLE_MESSAGE';
  constructor(detail: string) {
    super(detail);
    this.name = 'UndecodableMessageError';
  }
}

/** The committed event a message of `meridian.events` or `meridian.mailbox` carries. */
export function decodeRecordedEvent(message: KafkaMessage): RecordedEvent {
  if (message.value === null) throw new UndecodableMessageError('the message has no value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value.toString('utf8'));
  } catch (error) {
    throw new UndecodableMessageError(`the value is not JSON: ${(error as Error).message}`);
  }
  const event = parsed as Partial<RecordedEvent> | null;
  if (
    event === null ||
    typeof event !== 'object' ||
    typeof event.streamName !== 'string' ||
    typeof event.eventId !== 'string' ||
    typeof event.type !== 'string' ||
    typeof event.position !== 'number' ||
    typeof event.revision !== 'number' ||
    typeof event.metadata !== 'object'
  ) {
    throw new UndecodableMessageError('the value is not a recorded event (streamName, eventId, type, position, revision, metadata)');
  }
  return event as RecordedEvent;
}
