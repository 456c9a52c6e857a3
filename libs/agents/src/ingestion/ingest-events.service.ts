import { v5 as uuidv5 } from 'uuid';
import {
  CLOUD_EVENT_METADATA_KEY,
  ConcurrencyConflictError,
  streamName,
  type AppendRequest,
  type CloudEvent,
  type CloudEventEnvelope,
  type EventStore,
  type NewEvent,
} from '@meridian/domain';
import type { InboundEventsPort, IngestContext, IngestResult } from './inbound-events.port';

/** Namespace for deriving stored event ids from CloudEvent identity `(source, id)`. */
const CLOUD_EVENT_NAMESPACE = '6f1c2a0e-4b7d-5e8f-9a3b-2c1d0e9f8a7b';

export function storedEventId(source: string, id: string): string {
  return uuidv5(`${source}\n${id}`, CLOUD_EVENT_NAMESPACE);
}

/** One stream per subject; events without a subject are kept per source. */
export function ingestionStreamName(event: Pick<CloudEvent, 'subject' | 'source'>, tenantId: string): string {
  return event.subject !== undefined && event.subject !== '' ? streamName('entity', event.subject, tenantId) : streamName('source', event.source, tenantId);
}

function envelope(event: CloudEvent): CloudEventEnvelope {
  return {
    id: event.id,
    source: event.source,
    specversion: '1.0',
    subject: event.subject ?? null,
    time: event.time ?? null,
    datacontenttype: event.datacontenttype ?? null,
    dataschema: event.dataschema ?? null,
    extensions: event.extensions ?? {},
  };
}

const MAX_ATTEMPTS = 5;

/**
 * Appends ingested CloudEvents to the event store in one group commit, deduplicated by
 * `(source, id)`: the stored event id is derived from it, so a duplicate is found by id — within
 * the batch, against what is stored, and (through the store's id uniqueness) against a concurrent
 * request carrying the same event.
 */
export class IngestEventsService implements InboundEventsPort {
  constructor(private readonly store: EventStore) {}

  async ingest(events: readonly CloudEvent[], context: IngestContext): Promise<IngestResult> {
    const unique = new Map<string, CloudEvent>();
    for (const event of events) {
      const id = storedEventId(event.source, event.id);
      if (!unique.has(id)) unique.set(id, event);
    }
    const inBatchDuplicates = events.length - unique.size;

    for (let attempt = 1; ; attempt++) {
      const existing = await this.store.findExistingEventIds([...unique.keys()]);
      const requests: AppendRequest[] = [];
      for (const [eventId, event] of unique) {
        if (existing.has(eventId)) continue;
        requests.push({ streamName: ingestionStreamName(event, context.tenantId), events: [this.toNewEvent(eventId, event, context)], expected: 'any' });
      }
      if (requests.length === 0) {
        return { accepted: 0, duplicates: events.length, position: 0 };
      }
      try {
        const results = await this.store.appendMany(requests);
        const written = results.filter((r) => !r.duplicate).length;
        return {
          accepted: written,
          duplicates: inBatchDuplicates + existing.size + (requests.length - written),
          position: Math.max(...results.map((r) => r.position)),
        };
      } catch (error) {
        // A concurrent request stored one of these events between our lookup and our append:
        // look again; what is now stored counts as duplicate.
        if (error instanceof ConcurrencyConflictError && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  private toNewEvent(eventId: string, event: CloudEvent, context: IngestContext): NewEvent {
    return {
      eventId,
      type: event.type,
      data: event.data ?? null,
      metadata: {
        occurredAt: event.time ?? context.receivedAt,
        // Each ingested event is the root of its own chain.
        correlationId: eventId,
        causationId: null,
        hop: 0,
        tenantId: context.tenantId,
        actor: context.actor,
        requestId: context.requestId,
        ...(context.traceparent ? { traceparent: context.traceparent } : {}),
        [CLOUD_EVENT_METADATA_KEY]: envelope(event),
      },
    };
  }
}
