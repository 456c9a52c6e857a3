import type { EventStore, SubscriptionHandler, SubscriptionOptions } from '@meridian/domain';
import { EntitiesProjection } from '../ingestion/entities.projection';
import { EventsProjection } from '../ingestion/events.projection';
import { EntitiesReadRepository } from '../queries/entities.read-repository';
import { EventsReadRepository } from '../queries/events.read-repository';
import type { ReadModelDatabase } from '../read-model-data-source';
import { withReader } from '../read-model-transactions';
import { dumpProjectionVersion } from '../testing/read-model-dump';
import {
  CapturingLogger,
  CountingProjection,
  EventCountRecord,
  FailingProjection,
  HoldingProjection,
  ingest,
  orderEvents,
  readModelBackends,
  type ReadModelTestEnvironment,
} from '../testing/read-model-test-kit.fixture';
import type { Projection } from './projection';
import { ProjectionCheckpointRecord } from './projection-bookkeeping.entities';
import { RebuildAlreadyRunningError, UnknownProjectionError, ProjectionWaitTimeoutError } from './projection-errors';
import { ProjectionManager, type ProjectionManagerOptions } from './projection-manager';

const WAIT = { timeoutMs: 30_000 };

/**
 * Delegates to a store, but holds deliveries of the subscriptions it decides to hold until
 * `release()`. Holding outside the projection's transaction keeps everything else running.
 */
class HoldingStore {
  private releaseGate!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.releaseGate = resolve));
  private readonly heldWaiters: Array<{ count: number; resolve: () => void }> = [];
  private heldCount = 0;

  constructor(
    private readonly inner: EventStore,
    /** Decided when a subscription starts: may its deliveries be held? */
    private readonly holdSubscription: (options: SubscriptionOptions | undefined) => boolean,
    /** Decided per delivery of such a subscription: hold this one (the first match only)? */
    private readonly holdBatch: (lastPosition: number) => boolean,
  ) {}

  release(): void {
    this.releaseGate();
  }

  /** Resolves once `count` deliveries are being held. */
  holding(count: number): Promise<void> {
    if (this.heldCount >= count) return Promise.resolve();
    return new Promise((resolve) => this.heldWaiters.push({ count, resolve }));
  }

  asStore(): EventStore {
    const inner = this.inner;
    return {
      append: (...args) => inner.append(...args),
      appendMany: (...args) => inner.appendMany(...args),
      readStream: (...args) => inner.readStream(...args),
      streamRevision: (...args) => inner.streamRevision(...args),
      readAll: (...args) => inner.readAll(...args),
      findExistingEventIds: (...args) => inner.findExistingEventIds(...args),
      headPosition: () => inner.headPosition(),
      close: () => inner.close(),
      subscribe: (handler: SubscriptionHandler, options?: SubscriptionOptions) => {
        let holdThis = this.holdSubscription(options);
        return inner.subscribe(
          {
            ...handler,
            onEvents: async (events) => {
              if (holdThis && this.holdBatch(events[events.length - 1].position)) {
                holdThis = false;
                this.heldCount += 1;
                for (const waiter of this.heldWaiters.filter((w) => this.heldCount >= w.count)) waiter.resolve();
                await this.gate;
              }
              await handler.onEvents(events);
            },
          },
          options,
        );
      },
    };
  }
}

for (const backend of readModelBackends) {
  backend.describe(`projection engine (${backend.name})`, () => {
    let env: ReadModelTestEnvironment;
    const managers: ProjectionManager[] = [];
    /** Run before the managers stop, also when a test failed midway (release holds, stop appenders). */
    const cleanups: Array<() => Promise<void> | void> = [];

    beforeEach(async () => {
      env = await backend.open();
    });

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      for (const manager of managers.splice(0)) await manager.stop();
      await env.close();
    });

    function managerOn(database: ReadModelDatabase, projections: readonly Projection[], extra: Partial<ProjectionManagerOptions> = {}): ProjectionManager {
      const manager = new ProjectionManager({
        store: env.store,
        dataSource: database.writer,
        readDataSource: database.reader,
        projections,
        batchSize: 5,
        pollIntervalMs: 20,
        waitPollIntervalMs: 10,
        ...extra,
      });
      managers.push(manager);
      return manager;
    }

    /** What a projector that only ever ran live, from scratch, builds from the same store. */
    async function referenceDump(projections: readonly Projection[], head: number): Promise<Record<string, unknown>> {
      const database = await env.openAnotherDatabase();
      const manager = managerOn(database, projections, { batchSize: 3 });
      await manager.start();
      await manager.waitForPosition(head, WAIT);
      const dump: Record<string, unknown> = {};
      for (const projection of projections) dump[projection.name] = await dumpProjectionVersion(database.reader, projection, 1);
      await manager.stop();
      return dump;
    }

    async function dumpActive(database: ReadModelDatabase, manager: ProjectionManager, projections: readonly Projection[]): Promise<Record<string, unknown>> {
      const status = await manager.status();
      const dump: Record<string, unknown> = {};
      for (const projection of projections) {
        const version = status.find((entry) => entry.name === projection.name)?.activeVersion ?? 0;
        dump[projection.name] = await dumpProjectionVersion(database.reader, projection, version);
      }
      return dump;
    }

    async function countOf(database: ReadModelDatabase, version = 1): Promise<number> {
      return withReader(database.reader, async (manager) => (await manager.getRepository(EventCountRecord).findOne({ where: { projectionVersion: version, tenantId: 'default' } }))?.count ?? 0);
    }

    it('writes rows and checkpoint in one transaction: a failing batch leaves neither, a restart neither skips nor double-applies', async () => {
      const head = await ingest(env.store, orderEvents(40));
      const stored = await env.store.readAll();
      expect(stored).toHaveLength(40);
      const failAt = stored[22].position;
      const logger = new CapturingLogger();
      const entities = new FailingProjection(new EntitiesProjection(), failAt);
      const counts = new FailingProjection(new CountingProjection(), failAt);
      const first = managerOn(env.database, [entities, counts], { logger });

      await first.start();
      // Logged after the transaction rolled back.
      await logger.waitFor('projection batch failed; it will be retried', { projection: 'entities' });
      await logger.waitFor('projection batch failed; it will be retried', { projection: 'event-counts' });

      // Batches of 5: the batch holding event #22 is events 20..24, so everything up to #19 is in, nothing after.
      const status = await first.status();
      for (const name of ['entities', 'event-counts']) {
        expect(status.find((entry) => entry.name === name)).toMatchObject({ checkpoint: stored[19].position, state: 'failed', lastError: `injected failure at position ${failAt}` });
      }
      expect(await countOf(env.database)).toBe(20);
      const entityDump = await dumpProjectionVersion(env.database.reader, entities, 1);
      const folded = (entityDump.rm_entities as Array<{ eventCount: number }>).reduce((sum, row) => sum + row.eventCount, 0);
      expect(folded).toBe(stored.slice(0, 20).filter((event) => event.streamName.startsWith('default/entity-')).length);

      await first.stop();
      entities.failing = false;
      counts.failing = false;
      const second = managerOn(env.database, [entities, counts], { logger });
      await second.start();
      await second.waitForPosition(head, WAIT);

      expect(await countOf(env.database)).toBe(40);
      expect(await dumpActive(env.database, second, [entities])).toEqual(await referenceDump([new EntitiesProjection()], head));
      expect((await second.status()).map((entry) => entry.state)).toEqual(['live', 'live']);
    });

    it('aborts a batch whose checkpoint moved under it (another projector applied it) and resumes from the stored checkpoint', async () => {
      const head = await ingest(env.store, orderEvents(30));
      const logger = new CapturingLogger();
      // Holds every first delivery of every subscription it starts.
      const held = new HoldingStore(env.store, () => true, () => true);
      cleanups.push(() => held.release());
      // B loads checkpoint 0 and subscribes, but its deliveries wait…
      const late = new ProjectionManager({
        store: held.asStore(),
        dataSource: (await env.reopenDatabase()).writer,
        projections: [new CountingProjection(), new EntitiesProjection()],
        batchSize: 5,
        logger,
      });
      managers.push(late);
      await late.start();
      // …while A projects everything.
      const early = managerOn(env.database, [new CountingProjection(), new EntitiesProjection()]);
      await early.start();
      await early.waitForPosition(head, WAIT);
      held.release();
      await logger.waitFor('projection checkpoint moved under this runner; resuming from the stored checkpoint', { projection: 'event-counts' });
      await logger.waitFor('projection checkpoint moved under this runner; resuming from the stored checkpoint', { projection: 'entities' });
      await late.waitForPosition(head, WAIT);

      expect(await countOf(env.database)).toBe(30);
      expect(await dumpActive(env.database, early, [new EntitiesProjection()])).toEqual(await referenceDump([new EntitiesProjection()], head));
      expect(logger.messages('error')).toEqual([]);
    });

    if (backend.name === 'postgres') {
      it('two projectors racing on the same read models apply every event exactly once', async () => {
        await ingest(env.store, orderEvents(200));
        const other = await env.reopenDatabase();
        const a = managerOn(env.database, [new CountingProjection(), new EntitiesProjection()], { batchSize: 7 });
        const b = managerOn(other, [new CountingProjection(), new EntitiesProjection()], { batchSize: 11 });
        await Promise.all([a.start(), b.start()]);
        let head = 0;
        for (let i = 0; i < 10; i++) head = await ingest(env.store, orderEvents(20));
        await Promise.all([a.waitForPosition(head, WAIT), b.waitForPosition(head, WAIT)]);

        expect(await countOf(env.database)).toBe(400);
        expect(await dumpActive(env.database, a, [new EntitiesProjection()])).toEqual(await referenceDump([new EntitiesProjection()], head));
      });
    }

    it('rebuilds into a new version while live appends continue: the old version serves, progress is reported, the switch yields identical read models', async () => {
      await ingest(env.store, orderEvents(400));
      const logger = new CapturingLogger();
      // Rebuild runners subscribe from 0 once `rebuilding`; their delivery reaching past 150 is held until release().
      let rebuilding = false;
      const holding = new HoldingStore(
        env.store,
        (options) => rebuilding && (options?.after ?? 0) === 0,
        (lastPosition) => lastPosition > 150,
      );
      cleanups.push(() => holding.release());
      const events = new EventsProjection();
      const entities = new EntitiesProjection();
      const manager = managerOn(env.database, [events, entities], { store: holding.asStore(), logger, rebuildBatchSize: 50, progressLogIntervalMs: 0 });
      // The reference runs live from the start and sees the same appends.
      const referenceDatabase = await env.openAnotherDatabase();
      const reference = managerOn(referenceDatabase, [new EventsProjection(), new EntitiesProjection()], { batchSize: 3 });
      await manager.start();
      await reference.start();
      const startHead = await env.store.headPosition();
      await manager.waitForPosition(startHead, WAIT);
      const eventsRepository = new EventsReadRepository(env.database.reader);
      const entitiesRepository = new EntitiesReadRepository(env.database.reader);
      const servedBefore = await eventsRepository.list({ limit: 500 });
      const entityBefore = await entitiesRepository.get('order-3');

      // Live appends run through the whole rebuild and switch.
      let appending = true;
      let appended = 0;
      const appender = (async () => {
        while (appending) {
          await ingest(env.store, orderEvents(10));
          appended += 10;
          // The SQLite store appends synchronously: yield so timers and I/O are not starved.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      cleanups.push(async () => {
        appending = false;
        await appender;
      });

      rebuilding = true;
      await expect(manager.rebuild('events')).resolves.toEqual({ projection: 'events', targetVersion: 2 });
      await expect(manager.rebuild('entities')).resolves.toEqual({ projection: 'entities', targetVersion: 2 });
      await expect(manager.rebuild('events')).rejects.toBeInstanceOf(RebuildAlreadyRunningError);
      await expect(manager.rebuild('nope')).rejects.toBeInstanceOf(UnknownProjectionError);
      await holding.holding(2);
      // Version 1 keeps projecting the live appends meanwhile.
      const liveHead = await env.store.headPosition();
      await manager.waitForPosition(liveHead, WAIT);

      // Mid-rebuild: version 1 still serves, in full; progress is visible.
      const during = await manager.status();
      for (const name of ['events', 'entities']) {
        const entry = during.find((item) => item.name === name);
        expect(entry).toMatchObject({ version: 1, activeVersion: 1, state: 'rebuilding' });
        expect(entry?.checkpoint).toBeGreaterThanOrEqual(startHead);
        expect(entry?.rebuild).toMatchObject({ targetVersion: 2, startedAt: expect.any(String) });
        expect(entry?.rebuild?.position).toBeGreaterThan(0);
        expect(entry?.rebuild?.position).toBeLessThanOrEqual(150);
        expect(entry?.rebuild?.head).toBeGreaterThanOrEqual(startHead);
        expect(entry?.rebuild?.eventsPerSecond).toBeGreaterThan(0);
        expect(entry?.rebuild?.etaSeconds).toEqual(expect.any(Number));
      }
      const servedDuring = await eventsRepository.list({ limit: 500, after: 0 });
      expect(servedDuring.items.slice(0, servedBefore.items.length)).toEqual(servedBefore.items);
      const servedLive = await eventsRepository.list({ after: liveHead - 1, limit: 1 });
      expect(servedLive.items.map((event) => event.position)).toEqual([liveHead]);
      expect((await entitiesRepository.get('order-3'))?.eventCount).toBeGreaterThanOrEqual(entityBefore?.eventCount ?? Infinity);
      const progress = await logger.waitFor('projection rebuild progress', { projection: 'events' });
      expect(progress.fields).toMatchObject({ targetVersion: 2, position: expect.any(Number), head: expect.any(Number), eventsPerSecond: expect.any(Number) });

      holding.release();
      await logger.waitFor('projection switched to rebuilt version', { projection: 'events' });
      await logger.waitFor('projection switched to rebuilt version', { projection: 'entities' });
      appending = false;
      await appender;
      expect(appended).toBeGreaterThan(0);
      const head = await env.store.headPosition();
      await manager.waitForPosition(head, WAIT);
      await reference.waitForPosition(head, WAIT);

      const after = await manager.status();
      expect(after.map(({ name, activeVersion, state, rebuild }) => ({ name, activeVersion, state, rebuild }))).toEqual([
        { name: 'events', activeVersion: 2, state: 'live', rebuild: undefined },
        { name: 'entities', activeVersion: 2, state: 'live', rebuild: undefined },
      ]);
      const projections = [new EventsProjection(), new EntitiesProjection()];
      const rebuilt = await dumpActive(env.database, manager, projections);
      const live = await dumpActive(referenceDatabase, reference, projections);
      expect((rebuilt.events as { rm_events: unknown[] }).rm_events.length).toBeGreaterThan(400);
      expect(rebuilt).toEqual(live);
      expect((await eventsRepository.list({ limit: 500 })).items.slice(0, servedBefore.items.length)).toEqual(servedBefore.items);

      // The old version is dropped: its rows and its checkpoint.
      await logger.waitFor('projection version dropped', { projection: 'events', version: 1 });
      await logger.waitFor('projection version dropped', { projection: 'entities', version: 1 });
      expect(await dumpProjectionVersion(env.database.reader, events, 1)).toEqual({ rm_events: [] });
      expect(await dumpProjectionVersion(env.database.reader, entities, 1)).toEqual({ rm_entities: [] });
      const checkpoints = await withReader(env.database.reader, (m) => m.getRepository(ProjectionCheckpointRecord).find({ order: { projection: 'ASC' } }));
      expect(checkpoints.map(({ projection, version }) => ({ projection, version }))).toEqual([
        { projection: 'entities', version: 2 },
        { projection: 'events', version: 2 },
      ]);
      expect(logger.messages('error')).toEqual([]);
    });

    it('rebuilds on start when the code version of a projection changed, and resumes an interrupted rebuild after a restart', async () => {
      const head = await ingest(env.store, orderEvents(120));
      const first = managerOn(env.database, [new EntitiesProjection()]);
      await first.start();
      await first.waitForPosition(head, WAIT);
      await first.stop();

      // New code (version 2) whose rebuild gets interrupted by a stop…
      const logger = new CapturingLogger();
      const interrupted = new HoldingProjection(new EntitiesProjection(), 60, 2);
      cleanups.push(() => interrupted.release());
      const second = managerOn(env.database, [interrupted], { logger, rebuildBatchSize: 20 });
      await second.start();
      await logger.waitFor('projection code version changed; rebuilding', { projection: 'entities', builtByCodeVersion: 1, codeVersion: 2 });
      await interrupted.held;
      expect((await second.status())[0]).toMatchObject({ version: 2, activeVersion: 1, state: 'rebuilding', rebuild: { targetVersion: 2 } });
      const stopping = second.stop();
      interrupted.release();
      await stopping;

      // …is resumed from its checkpoint by the next start, then switched.
      const resumedLogger = new CapturingLogger();
      const third = managerOn(env.database, [new HoldingProjection(new EntitiesProjection(), Number.MAX_SAFE_INTEGER, 2)], { logger: resumedLogger, rebuildBatchSize: 20 });
      await third.start();
      const resumed = await resumedLogger.waitFor('projection rebuild started', { projection: 'entities', targetVersion: 2 });
      expect(resumed.fields.fromPosition).toBeGreaterThan(0);
      await resumedLogger.waitFor('projection switched to rebuilt version', { projection: 'entities', fromVersion: 1, toVersion: 2 });
      expect((await third.status())[0]).toMatchObject({ version: 2, activeVersion: 2, state: 'live', checkpoint: head });
      expect(resumedLogger.messages().filter((message) => message === 'projection code version changed; rebuilding')).toEqual([]);
      expect(await dumpActive(env.database, third, [new EntitiesProjection()])).toEqual(await referenceDump([new EntitiesProjection()], head));
    });

    it('a failing rebuild is marked failed while the active version keeps serving; a new rebuild succeeds', async () => {
      const head = await ingest(env.store, orderEvents(60));
      const stored = await env.store.readAll();
      const logger = new CapturingLogger();
      const failing = new FailingProjection(new EventsProjection(), stored[30].position);
      failing.failing = false;
      const manager = managerOn(env.database, [failing], { logger, maxRebuildFailures: 2, rebuildBatchSize: 10 });
      await manager.start();
      await manager.waitForPosition(head, WAIT);

      failing.failing = true;
      await manager.rebuild('events');
      await logger.waitFor('projection rebuild failed; the active version keeps serving', { projection: 'events', targetVersion: 2 });
      const status = (await manager.status())[0];
      expect(status).toMatchObject({ activeVersion: 1, checkpoint: head, state: 'failed', lastError: `injected failure at position ${stored[30].position}`, rebuild: { targetVersion: 2 } });
      expect((await new EventsReadRepository(env.database.reader).list({ limit: 500 })).items).toHaveLength(60);

      failing.failing = false;
      await expect(manager.rebuild('events')).resolves.toEqual({ projection: 'events', targetVersion: 3 });
      await logger.waitFor('projection switched to rebuilt version', { projection: 'events', toVersion: 3 });
      await logger.waitFor('projection version dropped', { projection: 'events', version: 2 });
      await logger.waitFor('projection version dropped', { projection: 'events', version: 1 });
      expect((await manager.status())[0]).toMatchObject({ activeVersion: 3, state: 'live', checkpoint: head });
      expect((await new EventsReadRepository(env.database.reader).list({ limit: 500 })).items).toHaveLength(60);
    });

    it('waitForPosition answers from the checkpoint table, so a process that does not project can wait too', async () => {
      const projections = () => [new EventsProjection(), new EntitiesProjection()];
      const projector = managerOn(env.database, projections());
      // Another process's manager: never started, its own connections.
      const gateway = managerOn(await env.reopenDatabase(), projections());
      await projector.start();

      const head = await ingest(env.store, orderEvents(25));
      await gateway.waitForPosition(head, { projections: ['events'], timeoutMs: 30_000 });
      await gateway.waitForPosition(head, WAIT);
      const events = await new EventsReadRepository(env.database.reader).list({ after: head - 1 });
      expect(events.items.map((event) => event.position)).toEqual([head]);
      await projector.waitForPosition(head, WAIT);

      await expect(gateway.waitForPosition(head, { projections: ['nope'] })).rejects.toBeInstanceOf(UnknownProjectionError);
      await projector.stop();
      const unprojected = await ingest(env.store, orderEvents(1));
      const timedOut = gateway.waitForPosition(unprojected, { projections: ['entities'], timeoutMs: 200 });
      await expect(timedOut).rejects.toBeInstanceOf(ProjectionWaitTimeoutError);
      await expect(timedOut).rejects.toMatchObject({ position: unprojected, behind: { entities: head } });
    });

    it('a rebuild requested from a process that does not project is picked up by the projector', async () => {
      const head = await ingest(env.store, orderEvents(30));
      const logger = new CapturingLogger();
      const projector = managerOn(env.database, [new EventsProjection()], { logger });
      const gateway = managerOn(await env.reopenDatabase(), [new EventsProjection()]);
      await projector.start();
      await projector.waitForPosition(head, WAIT);

      await expect(gateway.rebuild('events')).resolves.toEqual({ projection: 'events', targetVersion: 2 });
      await expect(gateway.rebuild('events')).rejects.toBeInstanceOf(RebuildAlreadyRunningError);
      await logger.waitFor('projection switched to rebuilt version', { projection: 'events', toVersion: 2 });
      expect((await gateway.status())[0]).toMatchObject({ name: 'events', activeVersion: 2, checkpoint: head, head, lag: 0, state: 'live' });
    });
  });
}
