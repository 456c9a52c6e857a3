import { CLOUD_EVENT_METADATA_KEY, isPlainObject, type RecordedEvent } from '@meridian/domain';

/**
 * The CloudEvent view of an ingested domain event: what subscription filters and rule conditions
 * see. The stored event keeps `type` and `data` itself and the rest of the envelope in
 * `metadata.cloudEvent`; the view puts them back together in one flat, documented shape:
 *
 * `{ type, subject, source, id, time, data, extensions }`
 *
 * `id` and `source` are the producer's (not the store's event id). `subject` and `time` are null
 * when the producer sent none, `data` is null when there was none, `extensions` is `{}` when empty.
 */
export interface CloudEventView {
  readonly type: string;
  readonly subject: string | null;
  readonly source: string;
  readonly id: string;
  readonly time: string | null;
  readonly data: unknown;
  readonly extensions: Readonly<Record<string, string | number | boolean>>;
}

const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * Builds the view of a stored event, or returns undefined when the event carries no CloudEvent
 * envelope: it was not ingested from outside (an agent's own event, a trigger's), so no
 * subscription applies to it.
 */
export function cloudEventViewOf(event: RecordedEvent): CloudEventView | undefined {
  const envelope = event.metadata[CLOUD_EVENT_METADATA_KEY];
  if (!isPlainObject(envelope) || typeof envelope.id !== 'string' || typeof envelope.source !== 'string') {
    return undefined;
  }
  const extensions = isPlainObject(envelope.extensions)
    ? (envelope.extensions as Readonly<Record<string, string | number | boolean>>)
    : {};
  return {
    type: event.type,
    subject: stringOrNull(envelope.subject),
    source: envelope.source,
    id: envelope.id,
    time: stringOrNull(envelope.time),
    data: event.data === undefined ? null : event.data,
    extensions,
  };
}
