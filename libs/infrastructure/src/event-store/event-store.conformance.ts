import { randomUUID } from 'node:crypto';
import {
  ConcurrencyConflictError,
  type AppendRequest,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
  type SubscriptionOptions,
} from '@meridian/domain';
import { InvalidAppendError } from './append-planner';
import { Upcasters } from './upcasters';

/**
 * The one conformance suite of the EventStore port. Every adapter runs it (in-memory, SQLite,
 * PostgreSQL); adapter-specific behaviour (durability, cross-process wake-ups, slow writers) is
 * tested next to the adapter.
 */

export interface EventStoreFixture {
  readonly store: EventStore;
  readonly cleanup: () => Promise<void>;
}

export interface EventStoreFactoryOptions {
  readonly upcasters?: Upcasters;
}

/** Creates a fresh, empty store. Called once per test. */
export type EventStoreFactory = (options?: EventStoreFactoryOptions) => Promise<EventStoreFixture>;

// ---------------------------------------------------------------------------------------------
// Test kit (also used by the adapter-specific suites)
// ---------------------------------------------------------------------------------------------

export function testMetadata(extra: Record<string, unknown> = {}): EventMetadata {
  return {
    occurredAt: '2026-03-01T12:00:00.000Z',
    correlationId: 'corr-1',
    causationId: null,
    hop: 0,
    tenantId: 'default',
    actor: { kind: 'system', id: 'conformance' },
    ...extra,
  };
}

export function newEvent(type = 'thing.happened', data: unknown = { n: 1 }, extra: Partial<NewEvent> = {}): NewEvent {
  return { eventId: randomUUID(), type, data, metadata: testMetadata(), ...extra };
}

export function newEvents(count: number, type = 'thing.happened'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => newEvent(type, { i }));
}

export function uniqueStream(category = 'thing'): string {
  return `default/${category}-${randomUUID()}`;
}

/** Waits until `condition` holds (checked after every macrotask), failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, description: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records what a subscription delivers. */
export class Collector implements SubscriptionHandler {
  readonly events: RecordedEvent[] = [];
  readonly batchSizes: number[] = [];
  readonly caughtUp: number[] = [];
  readonly errors: unknown[] = [];

  onEvents(events: readonly RecordedEvent[]): void {
    this.batchSizes.push(events.length);
    this.events.push(...events);
  }

  onCaughtUp(position: number): void {
    this.caughtUp.push(position);
  }

  onError(error: unknown): void {
    this.errors.push(error);
  }

  get positions(): number[] {
    return this.events.map((e) => e.position);
  }

  get lastCaughtUp(): number | undefined {
    return this.caughtUp[this.caughtUp.length - 1];
  }
}

/** Catches the conflict `promise` rejects with (and fails if it resolves or throws something else). */
export async function conflictOf(promise: Promise<unknown>): Promise<ConcurrencyConflictError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    return error as ConcurrencyConflictError;
  }
  throw new Error('expected a ConcurrencyConflictError, but the append succeeded');
}

export function isStrictlyIncreasing(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]);
}

/**
 * Asserts what a subscription delivered while appends ran: strictly increasing positions (so no
 * event became visible below one already delivered), each appended event exactly once, in the
 * order `readAll` reports.
 */
export async function expectDeliveredInGlobalOrder(store: EventStore, delivered: readonly RecordedEvent[], appendedIds: readonly string[]): Promise<void> {
  const positions = delivered.map((e) => e.position);
  expect(isStrictlyIncreasing(positions)).toBe(true);
  const deliveredIds = delivered.map((e) => e.eventId);
  expect(new Set(deliveredIds).size).toBe(deliveredIds.length);
  expect([...deliveredIds].sort()).toEqual([...appendedIds].sort());
  const all = await store.readAll();
  expect(all.map((e) => e.eventId)).toEqual(deliveredIds);
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

export function eventStoreConformance(name: string, factory: EventStoreFactory): void {
  describe(`${name}: EventStore conformance`, () => {
    // Waits are bounded by waitFor; this only keeps jest from cutting them short.
    jest.setTimeout(30_000);
    let store: EventStore;
    let cleanups: Array<() => Promise<void>> = [];
    const subscriptions: Subscription[] = [];

    const open = async (options?: EventStoreFactoryOptions): Promise<EventStore> => {
      const fixture = await factory(options);
      cleanups.push(fixture.cleanup);
      return fixture.store;
    };
    const subscribe = (handler: SubscriptionHandler, options?: SubscriptionOptions, on: EventStore = store): Subscription => {
      const subscription = on.subscribe(handler, options);
      subscriptions.push(subscription);
      return subscription;
    };

    beforeEach(async () => {
      cleanups = [];
      store = await open();
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    describe('append modes', () => {
      it('no_stream creates a stream with revisions from 0 and returns the last revision and position', async () => {
        const stream = uniqueStream();
        const events = newEvents(3);
        const result = await store.append(stream, events, { expected: 'no_stream' });
        expect(result).toEqual({ streamName: stream, nextExpectedRevision: 2, position: expect.any(Number), duplicate: false });
        const read = await store.readStream(stream);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(read.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
        expect(read[2].position).toBe(result.position);
        expect(isStrictlyIncreasing(read.map((e) => e.position))).toBe(true);
        expect(await store.streamRevision(stream)).toBe(2);
      });

      it('no_stream conflicts when the stream exists, reporting its revision', async () => {
        const stream = uniqueStream();
        await store.append(stream, newEvents(2), { expected: 'no_stream' });
        const conflict = await conflictOf(store.append(stream, newEvents(1), { expected: 'no_stream' }));
        expect(conflict).toMatchObject({ code: 'CONCURRENCY_CONFLICT', streamName: stream, expected: 'no_stream', actual: 1 });
      });

      it('stream_exists conflicts on a missing stream (actual no_stream) and appends to an existing one', async () => {
        const stream = uniqueStream();
        const conflict = await conflictOf(store.append(stream, newEvents(1), { expected: 'stream_exists' }));
        expect(conflict).toMatchObject({ streamName: stream, expected: 'stream_exists', actual: 'no_stream' });
        expect(await store.streamRevision(stream)).toBeNull();

        await store.append(stream, newEvents(1), { expected: 'no_stream' });
        const result = await store.append(stream, newEvents(2), { expected: 'stream_exists' });
        expect(result.nextExpectedRevision).toBe(2);
      });

      it('an exact revision appends when it matches the current revision', async () => {
        const stream = uniqueStream();
        const first = await store.append(stream, newEvents(1), { expected: 'no_stream' });
        const second = await store.append(stream, newEvents(2), { expected: first.nextExpectedRevision });
        expect(second.nextExpectedRevision).toBe(2);
        expect(second.position).toBeGreaterThan(first.position);
        const third = await store.append(stream, newEvents(1), { expected: 2 });
        expect(third.nextExpectedRevision).toBe(3);
      });

      it('an exact revision conflicts when stale, ahead, or the stream is missing', async () => {
        const stream = uniqueStream();
        const missing = await conflictOf(store.append(stream, newEvents(1), { expected: 0 }));
        expect(missing).toMatchObject({ streamName: stream, expected: 0, actual: 'no_stream' });

        await store.append(stream, newEvents(3), { expected: 'no_stream' });
        const stale = await conflictOf(store.append(stream, newEvents(1), { expected: 1 }));
        expect(stale).toMatchObject({ streamName: stream, expected: 1, actual: 2 });
        const ahead = await conflictOf(store.append(stream, newEvents(1), { expected: 5 }));
        expect(ahead).toMatchObject({ streamName: stream, expected: 5, actual: 2 });
        expect(stale.message).toContain(stream);
      });

      it('any appends whether or not the stream exists', async () => {
        const stream = uniqueStream();
        expect((await store.append(stream, newEvents(1), { expected: 'any' })).nextExpectedRevision).toBe(0);
        expect((await store.append(stream, newEvents(2), { expected: 'any' })).nextExpectedRevision).toBe(2);
      });

      it('a conflict writes nothing', async () => {
        const stream = uniqueStream();
        await store.append(stream, newEvents(1), { expected: 'no_stream' });
        const head = await store.headPosition();
        const rejected = newEvents(2);
        await conflictOf(store.append(stream, rejected, { expected: 3 }));
        expect(await store.headPosition()).toBe(head);
        expect(await store.streamRevision(stream)).toBe(0);
        expect((await store.findExistingEventIds(rejected.map((e) => e.eventId))).size).toBe(0);
      });

      it('rejects an append that carries the same event id twice, writing nothing', async () => {
        const stream = uniqueStream();
        const event = newEvent();
        await expect(store.append(stream, [event, event], { expected: 'any' })).rejects.toBeInstanceOf(InvalidAppendError);
        expect(await store.streamRevision(stream)).toBeNull();
      });
    });

    describe('idempotency by (stream, eventId)', () => {
      it('re-appending the same events with the same exact expectation is a duplicate: nothing written, stored revision and position returned', async () => {
        const stream = uniqueStream();
        await store.append(stream, newEvents(1), { expected: 'no_stream' });
        const events = newEvents(2);
        const original = await store.append(stream, events, { expected: 0 });
        // The stream moves on before the retry arrives (a retry after a timeout).
        await store.append(stream, newEvents(1), { expected: 2 });
        const head = await store.headPosition();

        const retry = await store.append(stream, events, { expected: 0 });
        expect(retry).toEqual({ streamName: stream, nextExpectedRevision: original.nextExpectedRevision, position: original.position, duplicate: true });
        expect(await store.headPosition()).toBe(head);
        expect(await store.readStream(stream)).toHaveLength(4);
      });

      it('a no_stream retry is a duplicate', async () => {
        const stream = uniqueStream();
        const events = newEvents(2);
        const original = await store.append(stream, events, { expected: 'no_stream' });
        const retry = await store.append(stream, events, { expected: 'no_stream' });
        expect(retry).toMatchObject({ duplicate: true, nextExpectedRevision: 1, position: original.position });
      });

      it('an any or stream_exists retry is a duplicate when the ids are stored consecutively in the stream', async () => {
        const stream = uniqueStream();
        await store.append(stream, newEvents(2), { expected: 'any' });
        const events = newEvents(3);
        const original = await store.append(stream, events, { expected: 'any' });
        await store.append(stream, newEvents(1), { expected: 'any' });
        expect(await store.append(stream, events, { expected: 'any' })).toEqual({ ...original, duplicate: true });
        expect(await store.append(stream, events, { expected: 'stream_exists' })).toEqual({ ...original, duplicate: true });
        // A suffix of a stored append is also "the same events at the same place".
        const tail = await store.append(stream, events.slice(1), { expected: 'any' });
        expect(tail).toMatchObject({ duplicate: true, nextExpectedRevision: 4 });
        expect(await store.streamRevision(stream)).toBe(5);
      });

      it('the same ids at another place conflict', async () => {
        const stream = uniqueStream();
        const events = newEvents(2);
        await store.append(stream, events, { expected: 'no_stream' });
        await store.append(stream, newEvents(1), { expected: 1 });
        const conflict = await conflictOf(store.append(stream, events, { expected: 2 }));
        expect(conflict).toMatchObject({ streamName: stream, expected: 2, actual: 2 });
        // Stored, but not in the order given.
        const reordered = await conflictOf(store.append(stream, [events[1], events[0]], { expected: 'any' }));
        expect(reordered).toMatchObject({ expected: 'any', actual: 2 });
      });

      it('a partial overlap (some ids stored, some new) conflicts and writes nothing', async () => {
        const stream = uniqueStream();
        const stored = newEvents(2);
        await store.append(stream, stored, { expected: 'no_stream' });
        const fresh = newEvent();
        const conflict = await conflictOf(store.append(stream, [...stored, fresh], { expected: 'no_stream' }));
        expect(conflict).toMatchObject({ streamName: stream, expected: 'no_stream', actual: 1 });
        const anyConflict = await conflictOf(store.append(stream, [stored[1], fresh], { expected: 'any' }));
        expect(anyConflict).toMatchObject({ expected: 'any', actual: 1 });
        expect((await store.findExistingEventIds([fresh.eventId])).size).toBe(0);
        expect(await store.streamRevision(stream)).toBe(1);
      });

      it('an id already stored in another stream conflicts (event ids are globally unique)', async () => {
        const first = uniqueStream();
        const second = uniqueStream();
        const event = newEvent();
        await store.append(first, [event], { expected: 'no_stream' });
        await store.append(second, newEvents(1), { expected: 'no_stream' });
        const conflict = await conflictOf(store.append(second, [event], { expected: 'any' }));
        expect(conflict).toMatchObject({ streamName: second, expected: 'any', actual: 0 });
        const missing = await conflictOf(store.append(uniqueStream(), [event], { expected: 'no_stream' }));
        expect(missing).toMatchObject({ expected: 'no_stream', actual: 'no_stream' });
        expect((await store.readAll()).filter((e) => e.eventId === event.eventId)).toHaveLength(1);
      });
    });

    describe('appendMany (group commit)', () => {
      it('applies requests in order, including several for the same stream', async () => {
        const a = uniqueStream();
        const b = uniqueStream();
        const results = await store.appendMany([
          { streamName: a, events: newEvents(1), expected: 'no_stream' },
          { streamName: b, events: newEvents(2), expected: 'no_stream' },
          { streamName: a, events: newEvents(1), expected: 0 },
        ]);
        expect(results.map((r) => [r.streamName, r.nextExpectedRevision, r.duplicate])).toEqual([
          [a, 0, false],
          [b, 1, false],
          [a, 1, false],
        ]);
        expect(isStrictlyIncreasing(results.map((r) => r.position))).toBe(true);
        const all = await store.readAll();
        expect(all.map((e) => [e.streamName, e.revision])).toEqual([
          [a, 0],
          [b, 0],
          [b, 1],
          [a, 1],
        ]);
      });

      it('is atomic: a conflict in one request writes nothing and throws that request’s conflict', async () => {
        const existing = uniqueStream();
        await store.append(existing, newEvents(2), { expected: 'no_stream' });
        const head = await store.headPosition();
        const fresh = uniqueStream();
        const requests: AppendRequest[] = [
          { streamName: fresh, events: newEvents(3), expected: 'no_stream' },
          { streamName: existing, events: newEvents(1), expected: 0 },
          { streamName: uniqueStream(), events: newEvents(1), expected: 'any' },
        ];
        const conflict = await conflictOf(store.appendMany(requests));
        expect(conflict).toMatchObject({ streamName: existing, expected: 0, actual: 1 });
        expect(await store.headPosition()).toBe(head);
        expect(await store.streamRevision(fresh)).toBeNull();
        expect((await store.findExistingEventIds(requests.flatMap((r) => r.events.map((e) => e.eventId)))).size).toBe(0);
      });

      it('sees earlier requests of the same batch when checking expectations', async () => {
        const stream = uniqueStream();
        const conflict = await conflictOf(
          store.appendMany([
            { streamName: stream, events: newEvents(1), expected: 'no_stream' },
            { streamName: stream, events: newEvents(1), expected: 'no_stream' },
          ]),
        );
        expect(conflict).toMatchObject({ streamName: stream, expected: 'no_stream', actual: 0 });
        expect(await store.streamRevision(stream)).toBeNull();
      });

      it('treats the same event twice in one batch as a duplicate of the first (ingestion retries)', async () => {
        const stream = uniqueStream();
        const event = newEvent();
        const results = await store.appendMany([
          { streamName: stream, events: [event], expected: 'any' },
          { streamName: stream, events: [event], expected: 'any' },
        ]);
        expect(results[0]).toMatchObject({ duplicate: false, nextExpectedRevision: 0 });
        expect(results[1]).toEqual({ ...results[0], duplicate: true });
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('writes a batch of 1000 single-event requests to distinct streams', async () => {
        const requests: AppendRequest[] = Array.from({ length: 1000 }, (_, i) => ({
          streamName: uniqueStream('bulk'),
          events: [newEvent('bulk.item', { i })],
          expected: 'no_stream' as ExpectedRevision,
        }));
        const results = await store.appendMany(requests);
        expect(results).toHaveLength(1000);
        expect(results.every((r, i) => r.streamName === requests[i].streamName && r.nextExpectedRevision === 0 && !r.duplicate)).toBe(true);
        expect(isStrictlyIncreasing(results.map((r) => r.position))).toBe(true);
        const all = await store.readAll();
        expect(all.map((e) => e.eventId)).toEqual(requests.map((r) => r.events[0].eventId));
        expect(await store.headPosition()).toBe(results[999].position);
        // Replaying the whole batch is a duplicate throughout.
        const replay = await store.appendMany(requests);
        expect(replay.every((r, i) => r.duplicate && r.position === results[i].position)).toBe(true);
      });

      it('writes 1000 events to one stream in one append', async () => {
        const stream = uniqueStream();
        const events = newEvents(1000);
        const result = await store.append(stream, events, { expected: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(999);
        const read = await store.readStream(stream);
        expect(read.map((e) => e.revision)).toEqual(events.map((_, i) => i));
        expect(read.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
        expect(isStrictlyIncreasing(read.map((e) => e.position))).toBe(true);
      });
    });

    describe('reads', () => {
      it('readStream honours fromRevision, maxCount and toPosition; a missing stream reads empty', async () => {
        const stream = uniqueStream();
        const other = uniqueStream();
        const positions: number[] = [];
        for (let i = 0; i < 5; i++) {
          positions.push((await store.append(stream, [newEvent('t', { i })], { expected: 'any' })).position);
          await store.append(other, newEvents(1), { expected: 'any' });
        }
        expect((await store.readStream(stream)).map((e) => e.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
        expect((await store.readStream(stream, { fromRevision: 2 })).map((e) => e.revision)).toEqual([2, 3, 4]);
        expect((await store.readStream(stream, { maxCount: 2 })).map((e) => e.revision)).toEqual([0, 1]);
        expect((await store.readStream(stream, { fromRevision: 1, maxCount: 3 })).map((e) => e.revision)).toEqual([1, 2, 3]);
        expect((await store.readStream(stream, { toPosition: positions[2] })).map((e) => e.revision)).toEqual([0, 1, 2]);
        expect((await store.readStream(stream, { toPosition: positions[2] + 1 })).map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(await store.readStream(stream, { fromRevision: 9 })).toEqual([]);
        expect(await store.readStream(uniqueStream())).toEqual([]);
        expect(await store.streamRevision(uniqueStream())).toBeNull();
      });

      it('readAll returns events in global order with after and limit', async () => {
        const streams = [uniqueStream(), uniqueStream()];
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) {
          const event = newEvent('t', { i });
          ids.push(event.eventId);
          await store.append(streams[i % 2], [event], { expected: 'any' });
        }
        const all = await store.readAll();
        expect(all.map((e) => e.eventId)).toEqual(ids);
        expect(isStrictlyIncreasing(all.map((e) => e.position))).toBe(true);
        expect((await store.readAll({ after: all[1].position })).map((e) => e.eventId)).toEqual(ids.slice(2));
        expect((await store.readAll({ after: all[1].position, limit: 3 })).map((e) => e.eventId)).toEqual(ids.slice(2, 5));
        expect(await store.readAll({ after: all[5].position })).toEqual([]);
        expect((await store.readAll({ limit: 1 })).map((e) => e.eventId)).toEqual([ids[0]]);
      });

      it('readAll filters by stream prefixes and types (exact and `*` prefix), combined and with limit', async () => {
        const order = `default/order-${randomUUID()}`;
        const invoice = `default/invoice-${randomUUID()}`;
        const other = `tenant2/order-${randomUUID()}`;
        await store.append(order, [newEvent('order.placed'), newEvent('order.shipped')], { expected: 'any' });
        await store.append(invoice, [newEvent('invoice.sent'), newEvent('order.noted')], { expected: 'any' });
        await store.append(other, [newEvent('order.placed')], { expected: 'any' });
        // Characters that are wildcards in SQL LIKE must match literally.
        const odd = 'default/we%ird_-1';
        await store.append(odd, [newEvent('x_y.z')], { expected: 'any' });
        const pick = async (filter: { streamPrefixes?: string[]; types?: string[] }, limit?: number) =>
          (await store.readAll({ filter, limit })).map((e) => `${e.streamName.split('-')[0]}:${e.type}`);

        expect(await pick({ streamPrefixes: ['default/order-'] })).toEqual(['default/order:order.placed', 'default/order:order.shipped']);
        expect(await pick({ streamPrefixes: ['default/order-', 'tenant2/'] })).toEqual([
          'default/order:order.placed',
          'default/order:order.shipped',
          'tenant2/order:order.placed',
        ]);
        expect(await pick({ types: ['order.placed'] })).toEqual(['default/order:order.placed', 'tenant2/order:order.placed']);
        expect(await pick({ types: ['order.*'] })).toEqual([
          'default/order:order.placed',
          'default/order:order.shipped',
          'default/invoice:order.noted',
          'tenant2/order:order.placed',
        ]);
        expect(await pick({ types: ['invoice.sent', 'order.s*'] })).toEqual(['default/order:order.shipped', 'default/invoice:invoice.sent']);
        expect(await pick({ streamPrefixes: ['default/'], types: ['order.*'] })).toEqual([
          'default/order:order.placed',
          'default/order:order.shipped',
          'default/invoice:order.noted',
        ]);
        expect(await pick({ types: ['order.*'] }, 2)).toEqual(['default/order:order.placed', 'default/order:order.shipped']);
        expect(await pick({ streamPrefixes: ['default/we%'] })).toEqual(['default/we%ird_:x_y.z']);
        expect(await pick({ streamPrefixes: ['default/we_'] })).toEqual([]);
        expect(await pick({ types: ['x%*'] })).toEqual([]);
        expect(await pick({ types: ['x_*'] })).toEqual(['default/we%ird_:x_y.z']);
        expect(await pick({ streamPrefixes: [], types: [] })).toHaveLength(6);
      });

      it('findExistingEventIds reports stored ids in any stream', async () => {
        const a = newEvent();
        const b = newEvent();
        await store.append(uniqueStream(), [a], { expected: 'any' });
        await store.append(uniqueStream(), [b], { expected: 'any' });
        const missing = randomUUID();
        expect(await store.findExistingEventIds([a.eventId, missing, b.eventId])).toEqual(new Set([a.eventId, b.eventId]));
        expect(await store.findExistingEventIds([])).toEqual(new Set());
      });

      it('headPosition is 0 when empty, then the last position', async () => {
        expect(await store.headPosition()).toBe(0);
        await store.append(uniqueStream(), newEvents(2), { expected: 'any' });
        const last = await store.append(uniqueStream(), newEvents(1), { expected: 'any' });
        expect(await store.headPosition()).toBe(last.position);
      });

      it('round-trips data and metadata exactly, sets recordedAt and the schema version', async () => {
        const stream = uniqueStream();
        const metadata = testMetadata({
          correlationId: 'chain-7',
          causationId: 'evt-6',
          hop: 3,
          tenantId: 'acme',
          actor: { kind: 'agent', id: 'agent-1' },
          traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          zeta: { nested: [1, 'two', null, { deep: true }] },
          alpha: 'ünïcødé ✓ "quoted" \\ back\nline',
        });
        const data = { z: 1, a: [1.5, -2, 1e21, 'x'], nested: { empty: {}, list: [] }, s: 'émoji 🎉', nothing: null, bool: false };
        const before = Date.now();
        await store.append(stream, [{ eventId: randomUUID(), type: 't.v1', data, metadata }, { eventId: randomUUID(), type: 't.v3', data: 'plain', metadata, schemaVersion: 3 }], {
          expected: 'no_stream',
        });
        const after = Date.now();
        for (const read of [await store.readStream(stream), await store.readAll()]) {
          expect(read[0].data).toEqual(data);
          expect(read[0].metadata).toEqual(metadata);
          // Exact: key order survives too.
          expect(JSON.stringify(read[0].data)).toBe(JSON.stringify(data));
          expect(JSON.stringify(read[0].metadata)).toBe(JSON.stringify(metadata));
          expect(read[0].schemaVersion).toBe(1);
          expect(read[1].data).toBe('plain');
          expect(read[1].schemaVersion).toBe(3);
          const recordedAt = Date.parse(read[0].recordedAt);
          expect(new Date(recordedAt).toISOString()).toBe(read[0].recordedAt);
          // Same machine clock; the margin only absorbs rounding, it measures nothing.
          expect(recordedAt).toBeGreaterThanOrEqual(before - 1000);
          expect(recordedAt).toBeLessThanOrEqual(after + 1000);
        }
      });

      it('applies upcasters on read (readStream, readAll, subscriptions), leaving current versions alone', async () => {
        const upcasters = new Upcasters()
          .register('price.set', 1, (d) => ({ cents: Math.round((d as { amount: number }).amount * 100) }))
          .register('price.set', 2, (d) => ({ ...(d as object), currency: 'EUR' }));
        const upcasting = await open({ upcasters });
        const stream = uniqueStream();
        await upcasting.append(
          stream,
          [
            newEvent('price.set', { amount: 1.5 }),
            newEvent('price.set', { cents: 7 }, { schemaVersion: 2 }),
            newEvent('price.set', { cents: 9, currency: 'USD' }, { schemaVersion: 3 }),
            newEvent('other', { amount: 1 }),
          ],
          { expected: 'no_stream' },
        );
        const expected = [
          { data: { cents: 150, currency: 'EUR' }, schemaVersion: 3 },
          { data: { cents: 7, currency: 'EUR' }, schemaVersion: 3 },
          { data: { cents: 9, currency: 'USD' }, schemaVersion: 3 },
          { data: { amount: 1 }, schemaVersion: 1 },
        ];
        const shape = (events: readonly RecordedEvent[]) => events.map((e) => ({ data: e.data, schemaVersion: e.schemaVersion }));
        expect(shape(await upcasting.readStream(stream))).toEqual(expected);
        expect(shape(await upcasting.readAll())).toEqual(expected);
        const collector = new Collector();
        subscribe(collector, {}, upcasting);
        await waitFor(() => collector.events.length === 4, 'the upcast events');
        expect(shape(collector.events)).toEqual(expected);
      });
    });

    describe('subscriptions', () => {
      it('catches up from the start, signals caught-up at the head, then delivers live appends', async () => {
        const stream = uniqueStream();
        const stored = newEvents(5);
        await store.append(stream, stored, { expected: 'no_stream' });
        const head = await store.headPosition();

        const collector = new Collector();
        subscribe(collector, { batchSize: 2 });
        await waitFor(() => collector.caughtUp.length > 0, 'caught up');
        expect(collector.events.map((e) => e.eventId)).toEqual(stored.map((e) => e.eventId));
        expect(collector.batchSizes.every((n) => n <= 2)).toBe(true);
        expect(collector.caughtUp).toEqual([head]);

        const live = newEvents(3);
        const result = await store.append(stream, live, { expected: 4 });
        await waitFor(() => collector.lastCaughtUp === result.position, 'caught up after the live append');
        expect(collector.events.map((e) => e.eventId)).toEqual([...stored, ...live].map((e) => e.eventId));
        expect(isStrictlyIncreasing(collector.positions)).toBe(true);
        expect(collector.errors).toEqual([]);
      });

      it('signals caught-up on an empty store, then goes live', async () => {
        const collector = new Collector();
        subscribe(collector);
        await waitFor(() => collector.caughtUp.length > 0, 'caught up');
        expect(collector.caughtUp).toEqual([0]);
        const event = newEvent();
        await store.append(uniqueStream(), [event], { expected: 'no_stream' });
        await waitFor(() => collector.events.length === 1, 'the live event');
        expect(collector.events[0].eventId).toBe(event.eventId);
      });

      it('starts strictly after the given position', async () => {
        const events = newEvents(4);
        const stream = uniqueStream();
        await store.append(stream, events, { expected: 'no_stream' });
        const all = await store.readAll();
        const collector = new Collector();
        subscribe(collector, { after: all[1].position });
        await waitFor(() => collector.caughtUp.length > 0, 'caught up');
        expect(collector.events.map((e) => e.eventId)).toEqual(events.slice(2).map((e) => e.eventId));
      });

      it('delivers only matching events and reports caught-up at the head even when the last events do not match', async () => {
        const orders = `default/order-${randomUUID()}`;
        const users = `default/user-${randomUUID()}`;
        await store.append(orders, [newEvent('order.placed'), newEvent('order.paid')], { expected: 'any' });
        await store.append(users, [newEvent('user.joined')], { expected: 'any' });
        const byType = new Collector();
        const byPrefix = new Collector();
        subscribe(byType, { filter: { types: ['order.p*'] }, batchSize: 1 });
        subscribe(byPrefix, { filter: { streamPrefixes: ['default/user-'] } });
        const head = await store.headPosition();
        await waitFor(() => byType.lastCaughtUp === head && byPrefix.lastCaughtUp === head, 'both caught up at the head');
        expect(byType.events.map((e) => e.type)).toEqual(['order.placed', 'order.paid']);
        expect(byPrefix.events.map((e) => e.type)).toEqual(['user.joined']);

        await store.append(users, [newEvent('user.left')], { expected: 'any' });
        const last = await store.append(orders, [newEvent('order.placed')], { expected: 'any' });
        await waitFor(() => byType.lastCaughtUp === last.position && byPrefix.lastCaughtUp === last.position, 'both caught up live');
        expect(byType.events.map((e) => e.type)).toEqual(['order.placed', 'order.paid', 'order.placed']);
        expect(byPrefix.events.map((e) => e.type)).toEqual(['user.joined', 'user.left']);
      });

      it('redelivers the same batch after the handler rejects, reporting the error', async () => {
        await store.append(uniqueStream(), newEvents(3), { expected: 'no_stream' });
        const calls: string[][] = [];
        const errors: unknown[] = [];
        const failure = new Error('projection store unavailable');
        subscribe(
          {
            onEvents: async (events) => {
              calls.push(events.map((e) => e.eventId));
              if (calls.length <= 2) throw failure;
            },
            onError: (error) => errors.push(error),
          },
          { batchSize: 10 },
        );
        await waitFor(() => calls.length === 3, 'two failures and a success');
        expect(calls[1]).toEqual(calls[0]);
        expect(calls[2]).toEqual(calls[0]);
        expect(calls[0]).toHaveLength(3);
        expect(errors).toEqual([failure, failure]);

        const next = newEvent();
        await store.append(uniqueStream(), [next], { expected: 'no_stream' });
        await waitFor(() => calls.length === 4, 'the next batch');
        expect(calls[3]).toEqual([next.eventId]);
      });

      it('stop() waits for the running handler call and nothing is delivered afterwards', async () => {
        await store.append(uniqueStream(), newEvents(1), { expected: 'no_stream' });
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let calls = 0;
        let entered = false;
        const subscription = store.subscribe({
          onEvents: async () => {
            calls++;
            entered = true;
            await gate;
          },
        });
        try {
          await waitFor(() => entered, 'the handler to start');
        } finally {
          // Without this a failed wait would leave close() waiting on the handler forever.
          setTimeout(() => release(), 20_000).unref();
        }
        let stopped = false;
        const stopping = subscription.stop().then(() => (stopped = true));
        for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(stopped).toBe(false);
        release();
        await stopping;
        expect(calls).toBe(1);

        // A second subscription witnesses the next append: once it has it, a live first one would too.
        const witness = new Collector();
        subscribe(witness);
        await waitFor(() => witness.caughtUp.length > 0, 'the witness to catch up');
        await store.append(uniqueStream(), newEvents(1), { expected: 'no_stream' });
        await waitFor(() => witness.events.length === 2, 'the witness to get the new event');
        expect(calls).toBe(1);
      });

      it('close() stops running subscriptions, waiting for a running handler call', async () => {
        const closing = await open();
        await closing.append(uniqueStream(), newEvents(1), { expected: 'no_stream' });
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let entered = false;
        closing.subscribe({
          onEvents: async () => {
            entered = true;
            await gate;
          },
        });
        try {
          await waitFor(() => entered, 'the handler to start');
        } finally {
          setTimeout(() => release(), 20_000).unref();
        }
        let closed = false;
        const closingDone = closing.close().then(() => (closed = true));
        for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(closed).toBe(false);
        release();
        await closingDone;
        await expect(closing.append(uniqueStream(), newEvents(1), { expected: 'any' })).rejects.toThrow(/closed/);
      });

      it('keeps the global order under concurrent writers: every event delivered once, positions strictly increasing', async () => {
        const collector = new Collector();
        subscribe(collector, { batchSize: 7 });
        const shared = uniqueStream('shared');
        const appended: string[] = [];
        const writer = async (w: number) => {
          const own = uniqueStream(`writer${w}`);
          for (let i = 0; i < 15; i++) {
            const events = newEvents(1 + (i % 3));
            appended.push(...events.map((e) => e.eventId));
            if (i % 4 === 0) {
              await store.appendMany([
                { streamName: own, events: events.slice(0, 1), expected: 'any' },
                { streamName: shared, events: events.slice(1), expected: 'any' },
              ]);
            } else {
              await store.append(i % 2 === 0 ? shared : own, events, { expected: 'any' });
            }
          }
        };
        await Promise.all([0, 1, 2, 3].map(writer));
        // Caught up at the final head: whatever it has not delivered by now, it has skipped.
        const head = await store.headPosition();
        await waitFor(() => (collector.lastCaughtUp ?? 0) >= head, 'caught up at the head');
        await expectDeliveredInGlobalOrder(store, collector.events, appended);
        const sharedEvents = await store.readStream(shared);
        expect(sharedEvents.map((e) => e.revision)).toEqual(sharedEvents.map((_, i) => i));
        expect(isStrictlyIncreasing(sharedEvents.map((e) => e.position))).toBe(true);
      });
    });
  });
}
