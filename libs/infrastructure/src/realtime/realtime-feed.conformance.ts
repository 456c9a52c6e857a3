import { randomUUID } from 'node:crypto';
import type { EventStore, GlobalPosition, NewEvent, RecordedEvent } from '@meridian/domain';
import type { RealtimeFeed, RealtimeListenOptions, RealtimeListener } from './realtime-feed.port';

/**
 * The one conformance suite of the RealtimeFeed port (see its contract). Every adapter runs it:
 * the in-process feed, and the Redis relay + feed pair. What only the Redis adapter does (gaps,
 * replicas, prefixes) is tested next to it.
 */

export interface RealtimeFeedFixture {
  /** The store whose commits the feed carries. */
  readonly store: EventStore;
  /** Started and ready: an event committed after `listen` returns must reach the listener. */
  readonly feed: RealtimeFeed;
  /** Listener failures the feed has reported so far. */
  readonly listenerErrors: readonly unknown[];
  readonly cleanup: () => Promise<void>;
}

/** Creates a fresh feed over a fresh store. Called once per test. */
export type RealtimeFeedFactory = () => Promise<RealtimeFeedFixture>;

// ---------------------------------------------------------------------------------------------
// Test kit (also used by the adapter-specific suites)
// ---------------------------------------------------------------------------------------------

export function realtimeEvent(type = 'thing.happened', data: unknown = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: {
      occurredAt: '2026-03-01T12:00:00.000Z',
      correlationId: randomUUID(),
      causationId: null,
      hop: 0,
      tenantId: 'default',
      actor: { kind: 'system', id: 'realtime-conformance' },
    },
  };
}

/** Commits one event to a new stream; resolves to its position. */
export async function commitOne(store: EventStore, data: unknown = {}): Promise<GlobalPosition> {
  const result = await store.append(`default/thing-${randomUUID()}`, [realtimeEvent('thing.happened', data)], { expected: 'no_stream' });
  return result.position;
}

export interface FeedCollector {
  readonly listener: RealtimeListener;
  readonly options: RealtimeListenOptions;
  /** Batches in the order received. */
  readonly batches: ReadonlyArray<readonly RecordedEvent[]>;
  readonly events: readonly RecordedEvent[];
  readonly positions: GlobalPosition[];
  /** How many times `onGap` was called. */
  readonly gaps: number;
  /** Set when a batch arrived while the previous one was still being handled. */
  readonly reentered: boolean;
  /** Resolves once `position` has been received; rejects (naming what did arrive) after `timeoutMs`. */
  until(position: GlobalPosition, timeoutMs?: number): Promise<void>;
  /** Resolves once `onGap` has been called `count` times in all; rejects after `timeoutMs`. */
  untilGaps(count: number, timeoutMs?: number): Promise<void>;
}

export function feedCollector(name = 'listener'): FeedCollector {
  const batches: Array<readonly RecordedEvent[]> = [];
  const events: RecordedEvent[] = [];
  const waiters = new Set<() => void>();
  let gaps = 0;
  let depth = 0;
  let reentered = false;
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const waitFor = (done: () => boolean, describe: () => string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: ${describe()}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    listener: (batch) => {
      if (depth > 0) reentered = true;
      depth++;
      try {
        batches.push(batch);
        events.push(...batch);
        wake();
      } finally {
        depth--;
      }
    },
    options: {
      onGap: () => {
        gaps++;
        wake();
      },
    },
    batches,
    events,
    get positions() {
      return events.map((e) => e.position);
    },
    get gaps() {
      return gaps;
    },
    get reentered() {
      return reentered;
    },
    until: (position, timeoutMs = 10_000) =>
      waitFor(
        () => events.some((e) => e.position === position),
        () => `position ${position} did not arrive within ${timeoutMs} ms; received [${events.map((e) => e.position).join(', ')}]`,
        timeoutMs,
      ),
    untilGaps: (count, timeoutMs = 10_000) =>
      waitFor(
        () => gaps >= count,
        () => `onGap was called ${gaps} times, not ${count}, within ${timeoutMs} ms`,
        timeoutMs,
      ),
  };
}

/** Each position greater than the one before it: increasing, with no repeat, across batches too. */
export function strictlyIncreasing(positions: readonly GlobalPosition[]): boolean {
  return positions.every((p, i) => i === 0 || p > positions[i - 1]);
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

export function realtimeFeedConformance(name: string, factory: RealtimeFeedFactory): void {
  describe(`${name}: RealtimeFeed conformance`, () => {
    let fixture: RealtimeFeedFixture;
    let store: EventStore;
    let feed: RealtimeFeed;

    beforeEach(async () => {
      fixture = await factory();
      ({ store, feed } = fixture);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('delivers every event committed after listen, once each, in strictly increasing order across batches, under concurrent writers', async () => {
      const before = await commitOne(store);
      const collector = feedCollector();
      feed.listen(collector.listener, collector.options);
      const singles = await Promise.all(Array.from({ length: 20 }, (_, i) => commitOne(store, { i })));
      const many = await store.appendMany([
        { streamName: `default/thing-${randomUUID()}`, events: [realtimeEvent()], expected: 'no_stream' },
        { streamName: `default/thing-${randomUUID()}`, events: [realtimeEvent(), realtimeEvent()], expected: 'no_stream' },
      ]);
      const committed = [...singles, many[0].position, many[1].position - 1, many[1].position].sort((a, b) => a - b);
      await collector.until(committed[committed.length - 1]);

      // Events committed a little before listen may arrive too; nothing else may, and nothing twice.
      expect(collector.positions.filter((p) => p > before)).toEqual(committed);
      expect(strictlyIncreasing(collector.positions)).toBe(true);
      expect(collector.batches.every((batch) => batch.length > 0)).toBe(true);
      expect(collector.reentered).toBe(false);
    });

    it('delivers the committed events themselves, as the store reads them back', async () => {
      const collector = feedCollector();
      feed.listen(collector.listener, collector.options);
      const data = { text: 'héllo ✓', amount: 12.5, tags: ['a', 'b'], nested: { ok: true, none: null } };
      const position = await commitOne(store, data);
      await collector.until(position);
      const [stored] = await store.readAll({ after: position - 1, limit: 1 });
      expect(collector.events.find((e) => e.position === position)).toEqual(stored);
    });

    it('gives every listener every batch, in the same order', async () => {
      const collectors = [feedCollector('one'), feedCollector('two'), feedCollector('three')];
      for (const c of collectors) feed.listen(c.listener, c.options);
      const positions: GlobalPosition[] = [];
      for (let i = 0; i < 5; i++) positions.push(await commitOne(store, { i }));
      await Promise.all(collectors.map((c) => c.until(positions[4])));
      for (const c of collectors) expect(c.positions).toEqual(positions);
    });

    it('stops delivering to a listener once it unlistens (idempotently), and keeps the others', async () => {
      const kept = feedCollector('kept');
      const gone = feedCollector('gone');
      feed.listen(kept.listener, kept.options);
      const unlisten = feed.listen(gone.listener, gone.options);
      const first = await commitOne(store);
      await gone.until(first);
      unlisten();
      unlisten();
      const second = await commitOne(store);
      const third = await commitOne(store);
      // Batches reach all listeners together: once `kept` has the third, `gone` would have it too.
      await kept.until(third);
      expect(kept.positions).toEqual([first, second, third]);
      expect(gone.positions).toEqual([first]);
    });

    it('reports a listener that throws, keeps it, and still delivers each batch once to the others', async () => {
      let calls = 0;
      feed.listen(() => {
        calls++;
        throw new Error('listener bug');
      });
      const healthy = feedCollector('healthy');
      feed.listen(healthy.listener, healthy.options);
      const first = await commitOne(store);
      await healthy.until(first);
      const second = await commitOne(store);
      await healthy.until(second);
      expect(healthy.positions).toEqual([first, second]);
      // Two separate batches: the failing listener was kept for the second, and each failure reported once.
      expect(calls).toBe(2);
      expect(fixture.listenerErrors).toHaveLength(2);
      expect(fixture.listenerErrors.every((e) => e instanceof Error && e.message === 'listener bug')).toBe(true);
    });

    it('signals no gap while nothing is lost', async () => {
      const collector = feedCollector();
      feed.listen(collector.listener, collector.options);
      let last = 0;
      for (let i = 0; i < 3; i++) last = await commitOne(store, { i });
      await collector.until(last);
      expect(collector.gaps).toBe(0);
    });
  });
}
