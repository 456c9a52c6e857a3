import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { AppendRequest, EventStore } from '@meridian/domain';
import { createTestSchema, describePostgres, PG_URL } from '../../../../test/support/services';
import {
  Collector,
  eventStoreConformance,
  expectDeliveredInGlobalOrder,
  isStrictlyIncreasing,
  newEvent,
  newEvents,
  uniqueStream,
  waitFor,
} from './event-store.conformance';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store';

describePostgres()('PostgresEventStore', () => {
  // Waits are bounded by waitFor; this only keeps jest from cutting them short.
  jest.setTimeout(30_000);

  eventStoreConformance('PostgresEventStore', async (options) => {
    const { schema, drop } = await createTestSchema('es_conf');
    const store = await PostgresEventStore.connect(PG_URL, { schema, upcasters: options?.upcasters, retryInitialDelayMs: 10, poolSize: 4 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  });

  describe('global order with concurrent transactions', () => {
    let schema: string;
    let drop: () => Promise<void>;
    const opened: EventStore[] = [];
    /** Releases a held writer, so a failing test cannot leave a transaction (and the lock) open. */
    let releaseHeld: () => void = () => undefined;
    /** Each store is its own pool and LISTEN connection: as good as another process. */
    const open = async (options: PostgresEventStoreOptions = {}) => {
      const store = await PostgresEventStore.connect(PG_URL, { schema, poolSize: 4, ...options });
      opened.push(store);
      return store;
    };

    beforeEach(async () => ({ schema, drop } = await createTestSchema('es_order')));
    afterEach(async () => {
      releaseHeld();
      for (const store of opened.splice(0)) await store.close();
      await drop();
    });

    it('a slow writer holding its transaction open is never skipped: later writers wait, readers see nothing past it', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      releaseHeld = () => release();
      let held: readonly number[] | null = null;
      let armed = true;
      const slow = await open({
        beforeCommit: async (positions) => {
          if (!armed) return;
          armed = false;
          held = positions;
          await gate;
        },
      });
      const other = await open();
      const reader = await open({ pollIntervalMs: 600_000 });
      const seed = await other.append(uniqueStream(), newEvents(2), { expected: 'no_stream' });

      const collector = new Collector();
      const subscription = reader.subscribe(collector, { batchSize: 2 });
      await waitFor(() => collector.lastCaughtUp === seed.position, 'caught up with the seed');

      const slowEvents = newEvents(3);
      const slowAppend = slow.append(uniqueStream(), slowEvents, { expected: 'no_stream' });
      await waitFor(() => held !== null, 'the slow writer to hold its transaction');
      const laterEvents = [newEvents(2), newEvents(1), newEvents(2)];
      const later = [
        other.append(uniqueStream(), laterEvents[0], { expected: 'no_stream' }),
        slow.append(uniqueStream(), laterEvents[1], { expected: 'no_stream' }),
        other.appendMany([{ streamName: uniqueStream(), events: laterEvents[2], expected: 'any' }]),
      ];
      await waitForAdvisoryLockWaiters(3);

      // While the slow writer is open, nothing at or after its positions is visible anywhere.
      expect(await reader.headPosition()).toBe(seed.position);
      expect((await reader.readAll({ after: seed.position })).length).toBe(0);
      expect(collector.positions.every((p) => p <= seed.position)).toBe(true);

      release();
      const slowResult = await slowAppend;
      const laterResults = await Promise.all(later);
      const laterPositions = laterResults.map((r) => (Array.isArray(r) ? r[0].position : r.position));
      expect(laterPositions.every((p) => p > slowResult.position)).toBe(true);
      expect(held!.every((p) => p <= slowResult.position)).toBe(true);

      const all = [...newEventsIds(slowEvents), ...laterEvents.flatMap(newEventsIds)];
      await waitFor(() => collector.events.length === 2 + all.length, 'every event delivered');
      await subscription.stop();
      expect(collector.events.slice(2, 5).map((e) => e.eventId)).toEqual(newEventsIds(slowEvents));
      const seedIds = collector.events.slice(0, 2).map((e) => e.eventId);
      await expectDeliveredInGlobalOrder(reader, collector.events, [...seedIds, ...all]);
    });

    it('under concurrent writers in several pools with random commit delays, subscribers and polling readers get every event once, in order', async () => {
      const delay = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 12)));
      const writers = await Promise.all([0, 1, 2].map(() => open({ beforeCommit: delay })));
      // A huge poll interval: live delivery has to come from LISTEN/NOTIFY across pools.
      const reader = await open({ pollIntervalMs: 600_000 });
      const collector = new Collector();
      reader.subscribe(collector, { batchSize: 5 });
      await waitFor(() => collector.caughtUp.length > 0, 'caught up');

      // A reader that keeps its own checkpoint, polling as fast as it can while writes run.
      const polled: number[] = [];
      const polledIds: string[] = [];
      let writing = true;
      const poller = (async () => {
        let after = 0;
        while (writing || after < (await reader.headPosition())) {
          const batch = await reader.readAll({ after, limit: 4 });
          for (const e of batch) {
            polled.push(e.position);
            polledIds.push(e.eventId);
          }
          if (batch.length > 0) after = batch[batch.length - 1].position;
        }
      })();

      const appended: string[] = [];
      const shared = uniqueStream('shared');
      const loop = async (store: EventStore, w: number) => {
        for (let i = 0; i < 12; i++) {
          const events = newEvents(1 + ((i + w) % 3));
          appended.push(...events.map((e) => e.eventId));
          if (i % 3 === 0) {
            const requests: AppendRequest[] = events.map((e) => ({ streamName: uniqueStream(), events: [e], expected: 'no_stream' }));
            await store.appendMany(requests);
          } else {
            await store.append(i % 2 === 0 ? shared : uniqueStream(), events, { expected: 'any' });
          }
        }
      };
      await Promise.all(writers.flatMap((store, w) => [loop(store, w * 2), loop(store, w * 2 + 1)]));
      writing = false;
      await poller;

      // Caught up at the final head: whatever it has not delivered by now, it has skipped.
      const head = await reader.headPosition();
      await waitFor(() => (collector.lastCaughtUp ?? 0) >= head, 'caught up at the head');
      await expectDeliveredInGlobalOrder(reader, collector.events, appended);
      expect(isStrictlyIncreasing(polled)).toBe(true);
      expect([...polledIds].sort()).toEqual([...appended].sort());
      const sharedStream = await reader.readStream(shared);
      expect(sharedStream.map((e) => e.revision)).toEqual(sharedStream.map((_, i) => i));
    }, 60_000);
  });

  describe('operations', () => {
    it('migrates idempotently, also from several stores starting at once', async () => {
      const { schema, drop } = await createTestSchema('es_migrate');
      const stores = await Promise.all([1, 2, 3].map(() => PostgresEventStore.connect(PG_URL, { schema, poolSize: 2 })));
      await stores[0].append(uniqueStream(), [newEvent()], { expected: 'no_stream' });
      const again = await PostgresEventStore.connect(PG_URL, schema);
      expect(await again.headPosition()).toBe(1);
      for (const store of [...stores, again]) await store.close();
      await drop();
    });

    it('creates its schema when it does not exist', async () => {
      const schema = `es_fresh_${randomUUID().slice(0, 8)}`;
      const store = await PostgresEventStore.connect(PG_URL, { schema });
      await store.append(uniqueStream(), [newEvent()], { expected: 'no_stream' });
      expect(await store.headPosition()).toBe(1);
      await store.close();
      await withClient((c) => c.query(`drop schema ${schema} cascade`));
    });

    it('connect fails fast when the database is unreachable', async () => {
      await expect(PostgresEventStore.connect('postgres://postgres@127.0.0.1:1/none')).rejects.toThrow();
    });

    it('pooled sessions end a transaction left idle (idle_in_transaction_session_timeout)', async () => {
      const { schema, drop } = await createTestSchema('es_idle');
      const store = await PostgresEventStore.connect(PG_URL, { schema, idleInTransactionTimeoutMs: 1234 });
      // The pool is private; read the setting back through a session it hands out.
      const pool = (store as unknown as { pool: { query(sql: string): Promise<{ rows: Array<{ setting: string }> }> } }).pool;
      const { rows } = await pool.query("select setting from pg_settings where name = 'idle_in_transaction_session_timeout'");
      expect(rows[0].setting).toBe('1234');
      await store.close();
      await drop();
    });
  });
});

function newEventsIds(events: ReadonlyArray<{ eventId: string }>): string[] {
  return events.map((e) => e.eventId);
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Waits until `count` sessions are blocked on an advisory lock (the append lock). */
async function waitForAdvisoryLockWaiters(count: number): Promise<void> {
  await withClient(async (client) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await client.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and not granted");
      if (Number(rows[0].n) >= count) return;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${count} writers to block on the append lock`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
}
