import { DEFAULT_TENANT_ID, parseStreamName, type RecordedEvent } from '@meridian/domain';

/** An event of an event-sourced aggregate, with what every aggregate projection needs about it. */
export interface AggregateEvent<E> {
  readonly event: E;
  readonly recorded: RecordedEvent;
  readonly tenantId: string;
  /** The aggregate id, from the stream name `<tenant>/<category>-<id>`. */
  readonly aggregateId: string;
  /** When it happened (metadata), falling back to when the store recorded it. */
  readonly occurredAt: string;
}

/**
 * Narrows a stored event to an aggregate's event union. Both the stream category and the type must
 * match: an ingested CloudEvent may well be called `agent.defined`, but it lives in an `entity-` or
 * `source-` stream and must never be taken for the aggregate's own event. The payload is trusted as
 * the aggregate's decider wrote it (upcasters run in the store).
 */
export function readAggregateEvent<E extends { readonly type: string; readonly data: unknown }>(
  recorded: RecordedEvent,
  category: string,
  types: readonly E['type'][],
): AggregateEvent<E> | null {
  const stream = parseStreamName(recorded.streamName);
  if (!stream || stream.category !== category || !(types as readonly string[]).includes(recorded.type)) return null;
  const tenantId = typeof recorded.metadata.tenantId === 'string' && recorded.metadata.tenantId !== '' ? recorded.metadata.tenantId : stream.tenantId || DEFAULT_TENANT_ID;
  return {
    event: { type: recorded.type, data: recorded.data } as E,
    recorded,
    tenantId,
    aggregateId: stream.id,
    occurredAt: typeof recorded.metadata.occurredAt === 'string' ? recorded.metadata.occurredAt : recorded.recordedAt,
  };
}

/** Key of a row within a tenant, for the in-memory maps of a batch. */
export const rowKey = (...parts: readonly string[]): string => JSON.stringify(parts);

export function groupByTenant<T extends { readonly tenantId: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.tenantId);
    if (group) group.push(item);
    else groups.set(item.tenantId, [item]);
  }
  return groups;
}
