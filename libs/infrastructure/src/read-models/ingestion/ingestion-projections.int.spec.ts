import { DomainError, evolveEntityState, type EntityState } from '@meridian/domain';
import { ProjectionManager } from '../engine/projection-manager';
import { EntitiesReadRepository } from '../queries/entities.read-repository';
import { EventsReadRepository, type IngestedEventView } from '../queries/events.read-repository';
import { defaultProjections } from '../projections';
import { cloudEvent, ingest, orderEvents, readModelBackends, type ReadModelTestEnvironment } from '../testing/read-model-test-kit.fixture';

for (const backend of readModelBackends) {
  backend.describe(`ingestion read models (${backend.name})`, () => {
    let env: ReadModelTestEnvironment;
    let manager: ProjectionManager;
    let events: EventsReadRepository;
    let entities: EntitiesReadRepository;

    beforeEach(async () => {
      env = await backend.open();
      // Small batches: folds and pages must be right across batch boundaries.
      manager = new ProjectionManager({
        store: env.store,
        dataSource: env.database.writer,
        readDataSource: env.database.reader,
        projections: defaultProjections(),
        batchSize: 7,
      });
      events = new EventsReadRepository(env.database.reader);
      entities = new EntitiesReadRepository(env.database.reader);
    });

    afterEach(async () => {
      await manager.stop();
      await env.close();
    });

    async function allEvents(query: Parameters<EventsReadRepository['list']>[0] = {}): Promise<IngestedEventView[]> {
      const items: IngestedEventView[] = [];
      let cursor: string | null = null;
      do {
        const page = await events.list({ ...query, cursor });
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    }

    it('projects every ingested event, in order, with its CloudEvent attributes', async () => {
      const input = [
        ...orderEvents(40),
        cloudEvent('order.placed', 'order-x', null, { extensions: { tenantregion: 'eu', priority: 3 }, datacontenttype: 'application/json', dataschema: 'urn:schema:order' }),
      ];
      await ingest(env.store, input);
      // Not ingested events: another category of stream must not show up.
      await env.store.append('default/agent-a1', [
        { eventId: 'agent-evt-1', type: 'order.placed', data: {}, metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 'test' } } },
      ], { expected: 'any' });
      const head = await env.store.headPosition();

      await manager.start();
      await manager.waitForPosition(head, { timeoutMs: 20_000 });

      const stored = (await env.store.readAll()).filter((event) => !event.streamName.startsWith('default/agent-'));
      const listed = await allEvents({ limit: 9 });
      expect(listed.map((event) => event.position)).toEqual(stored.map((event) => event.position));
      expect(listed.map((event) => event.id)).toEqual(input.map((event) => event.id));
      const last = listed[listed.length - 1];
      expect(last).toEqual({
        position: stored[stored.length - 1].position,
        eventId: stored[stored.length - 1].eventId,
        id: input[input.length - 1].id,
        source: 'urn:test:orders',
        type: 'order.placed',
        subject: 'order-x',
        time: input[input.length - 1].time,
        datacontenttype: 'application/json',
        dataschema: 'urn:schema:order',
        extensions: { tenantregion: 'eu', priority: 3 },
        data: null,
        recordedAt: stored[stored.length - 1].recordedAt,
        tenantId: 'default',
      });
      const withoutSubject = listed.find((event) => event.type === 'inventory.checked');
      expect(withoutSubject?.subject).toBeNull();
      expect(withoutSubject?.data).toEqual({ sku: 'sku-3', level: 3 });
    });

    it('filters by exact type, type prefix, subject and position, and pages with an opaque cursor', async () => {
      const input = [...orderEvents(30), cloudEvent('orders.archived', 'order-1', {}), cloudEvent('order_placed', 'order-1', {})];
      const head = await ingest(env.store, input);
      await manager.start();
      await manager.waitForPosition(head, { timeoutMs: 20_000 });
      const all = await allEvents();

      expect((await allEvents({ type: 'order.paid' })).map((e) => e.position)).toEqual(all.filter((e) => e.type === 'order.paid').map((e) => e.position));
      // A prefix is a prefix: `order.*` matches neither `orders.archived` nor `order_placed`.
      expect((await allEvents({ type: 'order.*' })).map((e) => e.position)).toEqual(all.filter((e) => e.type.startsWith('order.')).map((e) => e.position));
      expect((await allEvents({ type: 'ORDER.*' })).length).toBe(0);
      expect((await allEvents({ subject: 'order-1' })).map((e) => e.position)).toEqual(all.filter((e) => e.subject === 'order-1').map((e) => e.position));
      expect((await allEvents({ subject: 'order-1', type: 'order.placed' })).every((e) => e.subject === 'order-1' && e.type === 'order.placed')).toBe(true);
      const middle = all[10].position;
      expect((await allEvents({ after: middle })).map((e) => e.position)).toEqual(all.filter((e) => e.position > middle).map((e) => e.position));

      const first = await events.list({ limit: 5 });
      expect(first.items).toHaveLength(5);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await events.list({ limit: 5, cursor: first.nextCursor });
      expect(second.items.map((e) => e.position)).toEqual(all.slice(5, 10).map((e) => e.position));
      const lastPage = await events.list({ limit: all.length });
      expect(lastPage.nextCursor).toBeNull();
      expect((await events.list()).items).toHaveLength(Math.min(50, all.length));
      expect((await events.list({ limit: 10_000 })).items).toHaveLength(all.length);

      await expect(events.list({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      await expect(events.list({ limit: 0 })).rejects.toBeInstanceOf(DomainError);
    });

    it('keeps tenants apart', async () => {
      await ingest(env.store, [cloudEvent('order.placed', 'order-1', { total: 1 })], 'acme');
      const head = await ingest(env.store, [cloudEvent('order.placed', 'order-1', { total: 2 })], 'globex');
      await manager.start();
      await manager.waitForPosition(head, { timeoutMs: 20_000 });

      expect((await events.list({ tenantId: 'acme' })).items.map((e) => e.data)).toEqual([{ total: 1 }]);
      expect((await events.list({ tenantId: 'globex' })).items.map((e) => e.data)).toEqual([{ total: 2 }]);
      expect((await events.list()).items).toEqual([]);
      expect((await entities.get('order-1', 'acme'))?.state).toEqual({ total: 1 });
      expect((await entities.get('order-1', 'globex'))?.state).toEqual({ total: 2 });
      expect(await entities.get('order-1')).toBeNull();
    });

    it('folds each subject into its entity state, across batches and while live', async () => {
      const before = orderEvents(45);
      await ingest(env.store, before);
      await manager.start();
      // Appended after start: the live subscription picks them up.
      const after = [cloudEvent('order.cancelled', 'order-2', { status: 'cancelled', payment: null }), ...orderEvents(10)];
      const head = await ingest(env.store, after);
      await manager.waitForPosition(head, { timeoutMs: 20_000 });

      const stored = await env.store.readAll();
      const expected = new Map<string, { state: EntityState; lastPosition: number }>();
      for (const event of stored) {
        const subject = event.streamName.startsWith('default/entity-') ? event.streamName.slice('default/entity-'.length) : null;
        if (!subject) continue;
        const envelope = event.metadata.cloudEvent as { time: string };
        expected.set(subject, {
          state: evolveEntityState(expected.get(subject)?.state ?? null, subject, { type: event.type, data: event.data, time: envelope.time }),
          lastPosition: event.position,
        });
      }
      expect(expected.size).toBe(7);
      for (const [subject, { state, lastPosition }] of expected) {
        expect(await entities.get(subject)).toEqual({ ...state, tenantId: 'default', lastPosition });
      }

      expect(await entities.get('no-such-subject')).toBeNull();
    });

    it('merges deeply, lets later values win and deletes on null', async () => {
      await manager.start();
      const placed = cloudEvent('order.placed', 'order-9', { status: 'placed', total: 10, customer: { id: 'c1', tier: 'gold' } }, { time: '2026-02-01T10:00:00.000Z' });
      const paid = cloudEvent('order.paid', 'order-9', { status: 'paid', payment: { method: 'card' } }, { time: '2026-02-01T11:00:00.000Z' });
      const shipped = cloudEvent('order.shipped', 'order-9', { status: 'shipped', customer: { tier: null } }, { time: '2026-02-01T12:00:00.000Z' });
      const head = await ingest(env.store, [placed, paid, shipped]);
      await manager.waitForPosition(head, { timeoutMs: 20_000 });

      expect(await entities.get('order-9')).toEqual({
        subject: 'order-9',
        tenantId: 'default',
        state: { status: 'shipped', total: 10, customer: { id: 'c1' }, payment: { method: 'card' } },
        eventCount: 3,
        typeCounts: { 'order.placed': 1, 'order.paid': 1, 'order.shipped': 1 },
        firstSeen: '2026-02-01T10:00:00.000Z',
        lastSeen: '2026-02-01T12:00:00.000Z',
        lastEventType: 'order.shipped',
        lastPosition: head,
      });
    });
  });
}
