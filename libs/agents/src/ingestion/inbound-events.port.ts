import type { Actor, CloudEvent } from '@meridian/domain';

/**
 * Where the gateway hands ingested domain events. Standalone: appended to the event store in
 * process. Distributed: produced to Kafka (`meridian.inbound`) and appended by the runtime.
 * Resolving means durable: after it resolves the events are never lost.
 */
export const INBOUND_EVENTS = Symbol('InboundEvents');

export interface IngestContext {
  readonly tenantId: string;
  readonly actor: Actor;
  /** Correlation id of the request that carried the events (kept in metadata as `requestId`). */
  readonly requestId: string;
  readonly traceparent?: string;
  /** Receive time (ISO-8601), used as occurredAt for events without `time`. */
  readonly receivedAt: string;
}

export interface IngestResult {
  readonly accepted: number;
  readonly duplicates: number;
  /** Global position of the last stored event of this batch (0 if nothing new was stored). */
  readonly position: number;
}

export interface InboundEventsPort {
  ingest(events: readonly CloudEvent[], context: IngestContext): Promise<IngestResult>;
}
