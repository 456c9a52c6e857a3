import { CLOUD_EVENT_METADATA_KEY, DEFAULT_TENANT_ID, isPlainObject, parseStreamName, type RecordedEvent } from '@meridian/domain';

/**
 * Reads an ingested domain event back out of the store. The ingestion service stores each
 * CloudEvent in stream `<tenant>/entity-<subject>` (or `<tenant>/source-<source>` without a
 * subject) with the CloudEvent type as event type, its data as data, and the rest of the envelope in
 * `metadata.cloudEvent`.
 */
export interface IngestedEvent {
  readonly position: number;
  readonly eventId: string;
  readonly tenantId: string;
  readonly ceId: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string | null;
  /** CloudEvent `time`, else when the store recorded it: the entity fold needs a time for every event. */
  readonly time: string | null;
  readonly datacontenttype: string | null;
  readonly dataschema: string | null;
  readonly extensions: Readonly<Record<string, string | number | boolean>>;
  readonly data: unknown;
  readonly recordedAt: string;
}

const INGESTION_CATEGORIES = new Set(['entity', 'source']);

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function extensionsOf(value: unknown): Record<string, string | number | boolean> {
  if (!isPlainObject(value)) return {};
  const out: Record<string, string | number | boolean> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') out[key] = item;
  }
  return out;
}

/** Null when the event is not an ingested domain event (another category of stream). */
export function readIngestedEvent(event: RecordedEvent): IngestedEvent | null {
  const stream = parseStreamName(event.streamName);
  if (!stream || !INGESTION_CATEGORIES.has(stream.category)) return null;
  const envelope = isPlainObject(event.metadata[CLOUD_EVENT_METADATA_KEY]) ? (event.metadata[CLOUD_EVENT_METADATA_KEY] as Record<string, unknown>) : {};
  const tenantId = typeof event.metadata.tenantId === 'string' && event.metadata.tenantId !== '' ? event.metadata.tenantId : stream.tenantId || DEFAULT_TENANT_ID;
  // The envelope is authoritative; the stream name is the fallback for events stored without one.
  const subject = typeof envelope.subject === 'string' ? envelope.subject : envelope.subject === null ? null : stream.category === 'entity' ? stream.id : null;
  const source = stringOrNull(envelope.source) ?? (stream.category === 'source' ? stream.id : '');
  return {
    position: event.position,
    eventId: event.eventId,
    tenantId,
    ceId: stringOrNull(envelope.id) ?? event.eventId,
    source,
    type: event.type,
    subject,
    time: stringOrNull(envelope.time),
    datacontenttype: stringOrNull(envelope.datacontenttype),
    dataschema: stringOrNull(envelope.dataschema),
    extensions: extensionsOf(envelope.extensions),
    data: event.data === undefined ? null : event.data,
    recordedAt: event.recordedAt,
  };
}
