import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import type { CloudEvent } from '@meridian/domain';
import { IngestEventsService, storedEventId } from './ingest-events.service';
import type { IngestContext } from './inbound-events.port';

const context: IngestContext = {
  tenantId: 'default',
  actor: { kind: 'api-key', id: 'k1' },
  requestId: 'req-1',
  receivedAt: '2026-01-01T00:00:00.000Z',
};

const event = (id: string, subject?: string, extra: Partial<CloudEvent> = {}): CloudEvent => ({
  specversion: '1.0',
  id,
  source: 'shop',
  type: 'order.placed',
  ...(subject ? { subject } : {}),
  data: { n: id },
  ...extra,
});

describe('IngestEventsService', () => {
  let store: InMemoryEventStore;
  let service: IngestEventsService;

  beforeEach(() => {
    store = new InMemoryEventStore();
    service = new IngestEventsService(store);
  });

  afterEach(() => store.close());

  it('given new events, when ingested, then each is stored in its subject stream with its envelope', async () => {
    const result = await service.ingest([event('1', 'order-1'), event('2', 'order-2'), event('3', 'order-1')], context);
    expect(result).toMatchObject({ accepted: 3, duplicates: 0 });
    const stream = await store.readStream('default/entity-order-1');
    expect(stream.map((e) => e.data)).toEqual([{ n: '1' }, { n: '3' }]);
    expect(stream[0].eventId).toBe(storedEventId('default', 'shop', '1'));
    expect(stream[0].metadata).toMatchObject({
      correlationId: stream[0].eventId,
      hop: 0,
      tenantId: 'default',
      actor: { kind: 'api-key', id: 'k1' },
      requestId: 'req-1',
      occurredAt: '2026-01-01T00:00:00.000Z',
      cloudEvent: { id: '1', source: 'shop', subject: 'order-1' },
    });
    expect(result.position).toBe(await store.headPosition());
  });

  it('given events without a subject, when ingested, then they go to the source stream', async () => {
    await service.ingest([event('1')], context);
    expect(await store.readStream('default/source-shop')).toHaveLength(1);
  });

  it('given an event already ingested, when ingested again (even under another subject), then it is a duplicate and nothing is stored', async () => {
    await service.ingest([event('1', 'order-1')], context);
    const head = await store.headPosition();
    const again = await service.ingest([event('1', 'order-1'), event('1', 'order-9'), event('2', 'order-2')], context);
    expect(again).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(await store.readStream('default/entity-order-9')).toHaveLength(0);
    expect((await store.readAll({ after: head })).map((e) => e.metadata.cloudEvent)).toEqual([expect.objectContaining({ id: '2' })]);
  });

  it('given the same event twice in one batch, when ingested, then it is stored once', async () => {
    expect(await service.ingest([event('1', 's'), event('1', 's')], context)).toMatchObject({ accepted: 1, duplicates: 1 });
  });

  it('given concurrent requests carrying the same events, when ingested, then each event is stored exactly once', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => event(String(i), `s-${i % 5}`));
    const results = await Promise.all([service.ingest(batch, context), service.ingest(batch, context), service.ingest(batch, context)]);
    expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(50);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(100);
    expect(await store.readAll()).toHaveLength(50);
  });

  it('given requests arriving together, when ingested, then they share one group commit and each gets its own answer', async () => {
    const appendMany = jest.spyOn(store, 'appendMany');
    const [a, b, c] = await Promise.all([
      service.ingest([event('g-1', 's1'), event('g-2', 's2')], context),
      service.ingest([event('g-2', 's2'), event('g-3', 's1')], context),
      service.ingest([event('g-1', 's1')], context),
    ]);
    expect(appendMany).toHaveBeenCalledTimes(1);
    expect(a).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(b).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(c).toMatchObject({ accepted: 0, duplicates: 1 });
    // Its event was stored by request a: c's position lets a reader wait for it.
    expect(c.position).toBeGreaterThanOrEqual(a.position);
    expect((await store.readStream('default/entity-s1')).map((e) => (e.metadata.cloudEvent as { id: string }).id)).toEqual(['g-1', 'g-3']);
    expect(b.position).toBe(await store.headPosition());
  });

  it('given the store fails, when ingested, then every request of the group is rejected and nothing is acknowledged', async () => {
    jest.spyOn(store, 'appendMany').mockRejectedValueOnce(new Error('disk full'));
    const results = await Promise.allSettled([service.ingest([event('f-1', 's')], context), service.ingest([event('f-2', 's')], context)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await store.readAll()).toHaveLength(0);
  });

  it('given the same (source, id) from two tenants, when ingested, then each tenant stores its own event', async () => {
    const first = await service.ingest([event('shared-1', 'inv-1')], context);
    const second = await service.ingest([event('shared-1', 'inv-1')], { ...context, tenantId: 't2' });
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(second).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(await store.readStream('t2/entity-inv-1')).toHaveLength(1);
    expect(await store.readStream('default/entity-inv-1')).toHaveLength(1);
  });

  it('given a duplicate of an earlier request, when ingested, then it answers a position at or after the stored event', async () => {
    const first = await service.ingest([event('pos-1', 's')], context);
    await service.ingest([event('pos-2', 's')], context);
    const again = await service.ingest([event('pos-1', 's')], context);
    expect(again).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(again.position).toBeGreaterThanOrEqual(first.position);
  });
});
