import { randomUUID } from 'node:crypto';
import {
  CLOUD_EVENT_METADATA_KEY,
  type AppendRequest,
  type CloudEventEnvelope,
  type NewEvent,
} from '@meridian/domain';
import { ingestionStreamName, storedEventId } from '@meridian/agents';

/** A CloudEvent as a client sends it (structured JSON). */
export interface WireCloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/** One request's worth of events: the objects, and the body as sent (serialised once, up front). */
export interface IngestBatch {
  readonly events: readonly WireCloudEvent[];
  readonly body: string;
}

const SOURCE = 'https://shop.example.com/orders';
/** Orders are updated repeatedly: events spread over this many subjects (one stream each). */
const SUBJECTS = 20_000;

/**
 * `count` events in batches of `batchSize`, ids unique per run (`runId`) so warm-up and measured
 * events never collide (a collision would be a duplicate, which stores nothing).
 */
export function makeBatches(runId: string, count: number, batchSize: number, firstSeq = 0): IngestBatch[] {
  const batches: IngestBatch[] = [];
  for (let done = 0; done < count; done += batchSize) {
    const size = Math.min(batchSize, count - done);
    const events = Array.from({ length: size }, (_, i) => orderEvent(runId, firstSeq + done + i));
    batches.push({ events, body: JSON.stringify(events) });
  }
  return batches;
}

function orderEvent(runId: string, seq: number): WireCloudEvent {
  const orderId = `order-${seq % SUBJECTS}`;
  return {
    specversion: '1.0',
    id: `${runId}-${seq}`,
    source: SOURCE,
    type: 'com.shop.order.updated',
    subject: orderId,
    data: {
      orderId,
      customerId: `cust-${seq % 5000}`,
      amount: 129.9,
      currency: 'EUR',
      status: seq % 3 === 0 ? 'paid' : 'placed',
      items: [
        { sku: 'SKU-1001', quantity: 2, unitPrice: 39.95 },
        { sku: 'SKU-2002', quantity: 1, unitPrice: 50 },
      ],
    },
  };
}

/**
 * The append requests the standalone's ingestion makes for a batch (one request per event,
 * expected 'any', stream per subject, id derived from source and id, envelope in metadata), so the
 * direct peer stores exactly what the HTTP path stores.
 */
export function toAppendRequests(batch: IngestBatch, tenantId: string): AppendRequest[] {
  const requestId = randomUUID();
  const receivedAt = new Date().toISOString();
  return batch.events.map((event) => {
    const eventId = storedEventId(tenantId, event.source, event.id);
    const envelope: CloudEventEnvelope = {
      id: event.id,
      source: event.source,
      specversion: '1.0',
      subject: event.subject,
      time: null,
      datacontenttype: null,
      dataschema: null,
      extensions: {},
    };
    const newEvent: NewEvent = {
      eventId,
      type: event.type,
      data: event.data,
      metadata: {
        occurredAt: receivedAt,
        correlationId: eventId,
        causationId: null,
        hop: 0,
        tenantId,
        actor: { kind: 'api-key', id: 'admin' },
        requestId,
        [CLOUD_EVENT_METADATA_KEY]: envelope,
      },
    };
    return { streamName: ingestionStreamName(event, tenantId), events: [newEvent], expected: 'any' };
  });
}
