import { Registry } from 'prom-client';
import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { registerReadSideGauges, type ProjectionStatusSource } from './read-side.gauges';

type Status = Awaited<ReturnType<ProjectionStatusSource['status']>>;

describe('read-side gauges', () => {
  let store: InMemoryEventStore;
  let registry: Registry;
  let statuses: Status | Error;
  let reads: number;
  let errors: unknown[];

  beforeEach(async () => {
    store = new InMemoryEventStore();
    registry = new Registry();
    reads = 0;
    errors = [];
    const projections: ProjectionStatusSource = {
      status: async () => {
        reads += 1;
        if (statuses instanceof Error) throw statuses;
        return statuses;
      },
    };
    registerReadSideGauges(registry, { store, projections, onError: (error) => errors.push(error) });
    await store.append('default/entity-order-1', [1, 2, 3].map((n) => ({ eventId: `e${n}`, type: 'order.placed', data: {}, metadata: { occurredAt: '2025-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 't' } } })), { expected: 'any' });
  });

  afterEach(() => store.close());

  it('reports each projection checkpoint and lag, and the head, as they are at scrape time (one status read per scrape)', async () => {
    statuses = [
      { name: 'events', checkpoint: 3, lag: 0 },
      { name: 'agents', checkpoint: 1, lag: 2 },
    ];

    const text = await registry.metrics();

    expect(text).toContain('meridian_projection_lag_events{projection="events"} 0');
    expect(text).toContain('meridian_projection_lag_events{projection="agents"} 2');
    expect(text).toContain('meridian_projection_checkpoint{projection="agents"} 1');
    expect(text).toContain('meridian_event_store_head_position 3');
    expect(reads).toBe(1);
  });

  it('drops series of projections that are gone, and all of them when the status cannot be read', async () => {
    statuses = [
      { name: 'events', checkpoint: 3, lag: 0 },
      { name: 'old', checkpoint: 1, lag: 2 },
    ];
    await registry.metrics();
    statuses = [{ name: 'events', checkpoint: 3, lag: 0 }];
    expect(await registry.metrics()).not.toContain('projection="old"');

    statuses = new Error('database down');
    const text = await registry.metrics();

    expect(text).not.toContain('projection="events"');
    expect(text).toContain('meridian_event_store_head_position 3');
    expect(errors.length).toBeGreaterThan(0);
  });
});
