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

/** Tenants are isolated: the same `(source, id)` sent by two tenants is two events. */
export function storedEventId(tenantId: string, source: string, id: string): string {
  return uuidv5(`${tenantId}\n${source}\n${id}`, CLOUD_EVENT_NAMESPACE);
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

interface PendingIngest {
  readonly events: ReadonlyMap<string, { readonly stream: string; readonly event: NewEvent }>;
  readonly total: number;
  readonly resolve: (result: IngestResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Appends ingested CloudEvents to the event store, deduplicated by `(source, id)`: the stored event
 * id is derived from it, so a duplicate is found by id — within a request, against what is
 * stored, and (through the store's id uniqueness) against a concurrent request.
 *
 * Group commit: requests that arrive while the store is busy are appended together in one
 * `appendMany` (one transaction, one fsync), which is where ingestion throughput comes from. Each
 * request still gets its own answer, and resolves only once its events are durable.
 */
export class IngestEventsService implements InboundEventsPort {
  private queue: PendingIngest[] = [];
  private flushing = false;

  constructor(
    private readonly store: EventStore,
    /** Upper bound of events per group commit. */
    private readonly maxGroupEvents = 5000,
  ) {}

  ingest(events: readonly CloudEvent[], context: IngestContext): Promise<IngestResult> {
    const unique = new Map<string, { stream: string; event: NewEvent }>();
    for (const event of events) {
      const id = storedEventId(context.tenantId, event.source, event.id);
      if (!unique.has(id)) unique.set(id, { stream: ingestionStreamName(event, context.tenantId), event: this.toNewEvent(id, event, context) });
    }
    return new Promise<IngestResult>((resolve, reject) => {
      this.queue.push({ events: unique, total: events.length, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let the requests already received in this turn of the event loop join the group.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group: PendingIngest[] = [];
        let size = 0;
        while (this.queue.length > 0 && (group.length === 0 || size + this.queue[0].events.size <= this.maxGroupEvents)) {
          const next = this.queue.shift() as PendingIngest;
          size += next.events.size;
          group.push(next);
        }
        await this.commitGroup(group);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitGroup(group: readonly PendingIngest[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const ids = group.flatMap((p) => [...p.events.keys()]);
        const existing = await this.store.findExistingEventIds(ids);
        const claimed = new Set<string>();
        const requests: AppendRequest[] = [];
        const owner: number[] = [];
        const written = group.map(() => 0);
        group.forEach((pending, index) => {
          for (const [eventId, { stream, event }] of pending.events) {
            // Stored already, or carried by an earlier request of this group: a duplicate here.
            if (existing.has(eventId) || claimed.has(eventId)) continue;
            claimed.add(eventId);
            requests.push({ streamName: stream, events: [event], expected: 'any' });
            owner.push(index);
          }
        });
        const results = requests.length > 0 ? await this.store.appendMany(requests) : [];
        const positions = group.map(() => 0);
        results.forEach((result, i) => {
          const index = owner[i];
          if (!result.duplicate) written[index] += 1;
          positions[index] = Math.max(positions[index], result.position);
        });
        // A duplicate was stored earlier (or by another request of this group): answer a position
        // at or after it, so a client reading with minPosition still reads its events.
        const hasDuplicates = group.some((pending, index) => written[index] < pending.total);
        const atLeast = hasDuplicates ? Math.max(await this.store.headPosition(), ...positions) : 0;
        group.forEach((pending, index) => {
          const duplicates = pending.total - written[index];
          pending.resolve({ accepted: written[index], duplicates, position: duplicates > 0 ? Math.max(positions[index], atLeast) : positions[index] });
        });
        return;
      } catch (error) {
        // A concurrent writer stored one of these events between our lookup and our append:
        // look again; what is now stored counts as duplicate.
        if (error instanceof ConcurrencyConflictError && attempt < MAX_ATTEMPTS) continue;
        group.forEach((pending) => pending.reject(error));
        return;
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
