import { randomUUID } from 'node:crypto';
import type { KurrentDbEventStore as KurrentDbEventStoreClass } from './kurrentdb-event-store';
import type { Upcasters } from './upcasters';
import { eventStoreConformance, newEvent, newEvents, uniqueStream } from './event-store.conformance';

/*
 * The KurrentDB adapter runs the shared conformance suite when EVENTSTORE_URL names a server
 * (for example `kurrentdb://127.0.0.1:2113?tls=false`; KurrentDB 26.1 or later).
 *
 * Unlike the PostgreSQL, Redis and Kafka suites this one does not go through `serviceGate`, which
 * fails CI when its service is missing: no KurrentDB server runs on the machines CI uses, and
 * DESIGN.md ("Adapters and defaults") asks for the suite to run whenever its URL is given, not to
 * be required. So without the URL it skips, loudly, and CI stays green.
 *
 * The adapter module (and with it the gRPC client and its native bridge) is only required inside
 * the enabled branch: a skipped run never loads or connects the client.
 */
const url = process.env.EVENTSTORE_URL;

if (!url) {
  process.stderr.write(
    '\n\n*** EVENTSTORE_URL is not set: no KurrentDB server runs here, the KurrentDbEventStore suites are SKIPPED (set EVENTSTORE_URL=kurrentdb://host:2113?tls=false to run them) ***\n\n',
  );
  describe.skip('KurrentDbEventStore (EVENTSTORE_URL not set)', () => {
    it('runs the EventStore conformance suite against KurrentDB', () => undefined);
  });
} else {
  describe('KurrentDbEventStore', () => {
    // Waits are bounded by waitFor; this only keeps jest from cutting them short.
    jest.setTimeout(30_000);
    const { KurrentDbEventStore } = jest.requireActual<{ KurrentDbEventStore: typeof KurrentDbEventStoreClass }>('./kurrentdb-event-store');

    // Each store gets its own namespace: the suite expects a fresh, empty store per test, and a
    // KurrentDB database cannot be emptied, so isolation comes from the namespace.
    const open = (upcasters?: Upcasters) =>
      KurrentDbEventStore.connect(url, { namespace: `mt${randomUUID().replace(/-/g, '')}`, upcasters, retryInitialDelayMs: 10 });

    eventStoreConformance('KurrentDbEventStore', async (options) => {
      const store = await open(options?.upcasters);
      return { store, cleanup: () => store.close() };
    });

    describe('KurrentDB specifics', () => {
      it('keeps ids that are not UUIDs, and two stores in different namespaces do not see each other', async () => {
        const [a, b] = await Promise.all([open(), open()]);
        try {
          const stream = uniqueStream();
          const event = newEvent('t', { n: 1 }, { eventId: `evt-${randomUUID()}` });
          await a.append(stream, [event], { expected: 'no_stream' });
          expect((await a.readStream(stream)).map((e) => e.eventId)).toEqual([event.eventId]);
          expect(await a.findExistingEventIds([event.eventId])).toEqual(new Set([event.eventId]));
          expect(await b.readAll()).toEqual([]);
          expect(await b.headPosition()).toBe(0);
          await b.append(uniqueStream(), newEvents(1), { expected: 'no_stream' });
          expect(await a.readAll()).toHaveLength(1);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });

      it('connect fails fast when the server is unreachable', async () => {
        await expect(KurrentDbEventStore.connect('kurrentdb://127.0.0.1:1?tls=false')).rejects.toThrow();
      });
    });
  });
}
