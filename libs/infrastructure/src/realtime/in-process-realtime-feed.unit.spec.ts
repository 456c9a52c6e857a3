import { randomUUID } from 'node:crypto';
import type { NewEvent, RecordedEvent } from '@meridian/domain';
import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { InProcessRealtimeFeed } from './in-process-realtime-feed';

function event(): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'thing.happened',
    data: {},
    metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: randomUUID(), causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 't' } },
  };
}

/** Collects what a listener receives; `until(position)` resolves once that position has arrived. */
function collector() {
  const received: RecordedEvent[] = [];
  const waiters: Array<{ position: number; resolve: () => void }> = [];
  return {
    received,
    listener: (events: readonly RecordedEvent[]) => {
      received.push(...events);
      for (const w of waiters.splice(0)) {
        if (received.some((e) => e.position === w.position)) w.resolve();
        else waiters.push(w);
      }
    },
    until: (position: number) =>
      received.some((e) => e.position === position) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ position, resolve })),
  };
}

describe('InProcessRealtimeFeed', () => {
  let store: InMemoryEventStore;
  let feed: InProcessRealtimeFeed;

  beforeEach(() => {
    store = new InMemoryEventStore();
    feed = new InProcessRealtimeFeed(store, { onError: (error) => errors.push(error) });
  });
  const errors: unknown[] = [];

  afterEach(async () => {
    errors.splice(0);
    await feed.stop();
    await store.close();
  });

  it('refuses listeners before start: it could not promise them every later event', () => {
    expect(() => feed.listen(() => undefined)).toThrow(/before start/);
  });

  it('delivers only what is committed after start, in global order, to every listener', async () => {
    await store.append('default/entity-a', [event(), event()], { expected: 'any' });
    await feed.start();
    const one = collector();
    const two = collector();
    feed.listen(one.listener);
    feed.listen(two.listener);
    await store.append('default/entity-b', [event()], { expected: 'any' });
    const last = await store.appendMany([
      { streamName: 'default/entity-c', events: [event()], expected: 'any' },
      { streamName: 'default/agent-x', events: [event()], expected: 'any' },
    ]);
    await one.until(last[1].position);
    await two.until(last[1].position);
    expect(one.received.map((e) => e.position)).toEqual([3, 4, 5]);
    expect(two.received.map((e) => e.position)).toEqual([3, 4, 5]);
  });

  it('stops delivering to a listener once it unlistens, and keeps the others', async () => {
    await feed.start();
    const kept = collector();
    const gone = collector();
    feed.listen(kept.listener);
    const unlisten = feed.listen(gone.listener);
    const first = await store.append('default/entity-a', [event()], { expected: 'any' });
    await gone.until(first.position);
    unlisten();
    const second = await store.append('default/entity-a', [event()], { expected: 'any' });
    await kept.until(second.position);
    expect(gone.received.map((e) => e.position)).toEqual([first.position]);
    expect(feed.listenerCount).toBe(1);
  });

  it('reports a listener that throws and still delivers to the others, once', async () => {
    await feed.start();
    feed.listen(() => {
      throw new Error('listener bug');
    });
    const healthy = collector();
    feed.listen(healthy.listener);
    const first = await store.append('default/entity-a', [event()], { expected: 'any' });
    await healthy.until(first.position);
    const second = await store.append('default/entity-a', [event()], { expected: 'any' });
    await healthy.until(second.position);
    // Two separate batches, each reported once and neither delivered twice to the others.
    expect(healthy.received.map((e) => e.position)).toEqual([first.position, second.position]);
    expect(errors).toHaveLength(2);
  });
});
