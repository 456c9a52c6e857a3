/**
 * Behaviour of the AgentRouter against a real event store, shared by the unit spec (in-memory
 * store) and the int spec (SQLite file), so both adapters are held to the same routing contract.
 */
import {
  DEFAULT_AGENT_BUDGETS,
  streamName,
  type AgentDefinition,
  type AgentSubscription,
  type AppendRequest,
  type AppendResult,
  type CloudEvent,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  type MailboxInputEnqueued,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
  type SubscriptionOptions,
} from '@meridian/domain';
import { IngestEventsService, storedEventId } from '../ingestion/ingest-events.service';
import { AgentRouter, AGENT_ROUTER_ACTOR, mailboxEntryId, type AgentRouterOptions } from './agent-router';
import { InMemoryCheckpointStore } from './checkpoint-store.port';

export interface RouterStoreFactory {
  /** A fresh, empty store; `reopen` gives another store over the same data (same file), or the same store. */
  create(): Promise<{ store: EventStore; reopen: () => Promise<EventStore>; cleanup: () => Promise<void> }>;
}

const SOURCE = 'shop';
const RECEIVED_AT = '2026-01-01T00:00:00.000Z';

function definition(subscriptions: readonly AgentSubscription[]): AgentDefinition {
  return {
    name: 'agent',
    kind: 'custom',
    subscriptions,
    engine: { type: 'llm', provider: 'fake', model: 'fake' },
    tools: [],
    budgets: { ...DEFAULT_AGENT_BUDGETS },
    mailboxPolicy: 'queue',
  };
}

function lifecycleMetadata(tenantId: string): EventMetadata {
  return { occurredAt: RECEIVED_AT, correlationId: 'setup', causationId: null, hop: 0, tenantId, actor: { kind: 'user', id: 'admin' } };
}

let lifecycleCounter = 0;

async function appendLifecycle(store: EventStore, tenantId: string, agentId: string, type: string, data: Record<string, unknown>): Promise<GlobalPosition> {
  const event: NewEvent = { eventId: `lifecycle-${++lifecycleCounter}-${tenantId}-${agentId}`, type, data: { agentId, version: 1, ...data }, metadata: lifecycleMetadata(tenantId) };
  const result = await store.append(streamName('agent', agentId, tenantId), [event], { expected: 'any' });
  return result.position;
}

export const defineAgent = (store: EventStore, agentId: string, subscriptions: readonly AgentSubscription[], tenantId = 'default') =>
  appendLifecycle(store, tenantId, agentId, 'agent.defined', { definition: definition(subscriptions) });
export const reconfigureAgent = (store: EventStore, agentId: string, subscriptions: readonly AgentSubscription[], tenantId = 'default') =>
  appendLifecycle(store, tenantId, agentId, 'agent.reconfigured', { definition: definition(subscriptions), changed: ['subscriptions'] });
export const pauseAgent = (store: EventStore, agentId: string, tenantId = 'default') => appendLifecycle(store, tenantId, agentId, 'agent.paused', {});
export const resumeAgent = (store: EventStore, agentId: string, tenantId = 'default') => appendLifecycle(store, tenantId, agentId, 'agent.resumed', {});
export const retireAgent = (store: EventStore, agentId: string, tenantId = 'default') => appendLifecycle(store, tenantId, agentId, 'agent.retired', {});

export function cloudEvent(id: string, type: string, data: unknown = {}, subject: string | null = `order-${id}`): CloudEvent {
  return { specversion: '1.0', id, source: SOURCE, type, ...(subject !== null ? { subject } : {}), data };
}

export async function ingest(store: EventStore, events: readonly CloudEvent[], tenantId = 'default'): Promise<GlobalPosition> {
  const service = new IngestEventsService(store);
  const result = await service.ingest(events, { tenantId, actor: { kind: 'api-key', id: 'k1' }, requestId: 'req', receivedAt: RECEIVED_AT });
  return result.position;
}

/** Stored id of an ingested CloudEvent. */
export const ref = (id: string, tenantId = 'default') => storedEventId(tenantId, SOURCE, id);

export async function mailbox(store: EventStore, agentId: string, tenantId = 'default'): Promise<RecordedEvent<string, MailboxInputEnqueued['data']>[]> {
  return (await store.readStream(streamName('mailbox', agentId, tenantId))) as RecordedEvent<string, MailboxInputEnqueued['data']>[];
}

/** The producer ids of the events in an agent's mailbox, in mailbox order. */
export async function mailboxIds(store: EventStore, agentId: string, tenantId = 'default'): Promise<string[]> {
  const entries = await mailbox(store, agentId, tenantId);
  const byRef = new Map<string, string>();
  for (const event of await store.readAll({ filter: { streamPrefixes: [`${tenantId}/entity-`, `${tenantId}/source-`] } })) {
    const envelope = event.metadata.cloudEvent as { id: string };
    byRef.set(event.eventId, envelope.id);
  }
  return entries.map((entry) => byRef.get(entry.data.input.ref) ?? `unknown:${entry.data.input.ref}`);
}

/**
 * Delegates to a store, misbehaving within the port's contract: the first `appendFailures`
 * appendMany calls fail (a store outage mid-batch), and with `redeliverFirstBatch` every delivered
 * batch is followed by the first batch again (at-least-once delivery of an old batch).
 */
class MisbehavingStore implements EventStore {
  private failures: number;
  constructor(
    private readonly inner: EventStore,
    private readonly misbehaviour: { readonly appendFailures?: number; readonly redeliverFirstBatch?: boolean },
  ) {
    this.failures = misbehaviour.appendFailures ?? 0;
  }
  append(name: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    return this.inner.append(name, events, options);
  }
  appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('store unavailable'));
    }
    return this.inner.appendMany(requests);
  }
  readStream(name: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.inner.readStream(name, options);
  }
  streamRevision(name: string): Promise<number | null> {
    return this.inner.streamRevision(name);
  }
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.inner.readAll(options);
  }
  findExistingEventIds(ids: readonly string[]): Promise<Set<string>> {
    return this.inner.findExistingEventIds(ids);
  }
  headPosition(): Promise<GlobalPosition> {
    return this.inner.headPosition();
  }
  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    if (this.misbehaviour.redeliverFirstBatch !== true) return this.inner.subscribe(handler, options);
    let first: readonly RecordedEvent[] | undefined;
    return this.inner.subscribe(
      {
        ...handler,
        async onEvents(events) {
          await handler.onEvents(events);
          if (first === undefined) first = events;
          else await handler.onEvents(first);
        },
      },
      options,
    );
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function describeAgentRouter(name: string, factory: RouterStoreFactory, volume: { agents: number; events: number }): void {
  describe(name, () => {
    let store: EventStore;
    let reopen: () => Promise<EventStore>;
    let cleanup: () => Promise<void>;
    const routers: AgentRouter[] = [];

    beforeEach(async () => {
      ({ store, reopen, cleanup } = await factory.create());
    });

    afterEach(async () => {
      for (const router of routers.splice(0)) await router.stop();
      await cleanup();
    });

    function router(options: Partial<AgentRouterOptions> = {}): AgentRouter {
      const created = new AgentRouter({ store, checkpoints: new InMemoryCheckpointStore(), now: () => '2026-01-02T00:00:00.000Z', ...options });
      routers.push(created);
      return created;
    }

    /** Starts a router and waits until it has routed everything stored so far. */
    async function routeAll(options: Partial<AgentRouterOptions> = {}): Promise<AgentRouter> {
      const created = router(options);
      await created.start();
      await created.waitUntilProcessed(await (options.store ?? store).headPosition());
      return created;
    }

    it('given subscriptions by exact type, prefix, * and JSON Logic filter, when events are ingested, then each agent gets exactly the events it subscribes to', async () => {
      await defineAgent(store, 'exact', [{ type: 'order.placed' }]);
      await defineAgent(store, 'prefix', [{ type: 'order.*' }]);
      await defineAgent(store, 'all', [{ type: '*' }]);
      await defineAgent(store, 'big', [{ type: 'order.placed', filter: { '>': [{ var: 'data.total' }, 100] } }]);
      await ingest(store, [
        cloudEvent('1', 'order.placed', { total: 50 }),
        cloudEvent('2', 'order.shipped'),
        cloudEvent('3', 'invoice.paid'),
        cloudEvent('4', 'order.placed', { total: 500 }),
      ]);
      await routeAll();

      expect(await mailboxIds(store, 'exact')).toEqual(['1', '4']);
      expect(await mailboxIds(store, 'prefix')).toEqual(['1', '2', '4']);
      expect(await mailboxIds(store, 'all')).toEqual(['1', '2', '3', '4']);
      expect(await mailboxIds(store, 'big')).toEqual(['4']);
    });

    it('given a routed event, when it is enqueued, then the mailbox entry refers to it and carries its chain (same hop, caused by it, by the router)', async () => {
      await defineAgent(store, 'a', [{ type: 'order.*' }]);
      await ingest(store, [cloudEvent('1', 'order.placed', {}, 'order-1'), cloudEvent('2', 'order.placed', {}, null)]);
      await routeAll();

      const [withSubject, withoutSubject] = await mailbox(store, 'a');
      const [routed] = await store.readStream('default/entity-order-1');
      expect(withSubject.eventId).toBe(mailboxEntryId('a', ref('1')));
      expect(withSubject.type).toBe('mailbox.input-enqueued');
      expect(withSubject.data).toEqual({
        agentId: 'a',
        input: { kind: 'event', ref: ref('1'), position: routed.position, type: 'order.placed', subject: 'order-1' },
        enqueuedAt: '2026-01-02T00:00:00.000Z',
      });
      expect(withSubject.metadata).toMatchObject({
        correlationId: routed.metadata.correlationId,
        hop: routed.metadata.hop,
        causationId: routed.eventId,
        tenantId: 'default',
        actor: AGENT_ROUTER_ACTOR,
      });
      expect(withoutSubject.data.input).not.toHaveProperty('subject');
      expect(withoutSubject.data.input.ref).toBe(ref('2'));
    });

    it('given events that were not ingested (an agent event, an ingested event named like a lifecycle event), when routed, then only ingested events reach mailboxes and no agent is defined from outside', async () => {
      await defineAgent(store, 'a', [{ type: '*' }]);
      await appendLifecycle(store, 'default', 'a', 'agent.decision-recorded', {});
      await ingest(store, [cloudEvent('1', 'agent.defined', { agentId: 'intruder', definition: definition([{ type: '*' }]) })]);
      await ingest(store, [cloudEvent('2', 'order.placed')]);
      await routeAll();

      expect(await mailboxIds(store, 'a')).toEqual(['1', '2']);
      expect(await mailbox(store, 'intruder')).toEqual([]);
    });

    it('given paused and retired agents, when events arrive, then they get nothing; a resumed agent gets only the events after its resumption', async () => {
      await defineAgent(store, 'paused', [{ type: '*' }]);
      await defineAgent(store, 'retired', [{ type: '*' }]);
      await ingest(store, [cloudEvent('1', 'order.placed')]);
      await pauseAgent(store, 'paused');
      await retireAgent(store, 'retired');
      await ingest(store, [cloudEvent('2', 'order.placed')]);
      await resumeAgent(store, 'paused');
      await resumeAgent(store, 'retired');
      await ingest(store, [cloudEvent('3', 'order.placed')]);
      await routeAll();

      expect(await mailboxIds(store, 'paused')).toEqual(['1', '3']);
      expect(await mailboxIds(store, 'retired')).toEqual(['1']);
    });

    it('given a live router, when an agent is paused and resumed, then what arrived while paused is never delivered', async () => {
      await defineAgent(store, 'a', [{ type: '*' }]);
      const live = router();
      await live.start();
      await live.waitUntilProcessed(await ingest(store, [cloudEvent('1', 'order.placed')]));
      await pauseAgent(store, 'a');
      await live.waitUntilProcessed(await ingest(store, [cloudEvent('2', 'order.placed')]));
      await resumeAgent(store, 'a');
      await live.waitUntilProcessed(await ingest(store, [cloudEvent('3', 'order.placed')]));

      expect(await mailboxIds(store, 'a')).toEqual(['1', '3']);
    });

    it('given a reconfiguration, when events follow, then the new subscriptions apply from the next event on and earlier routing stands', async () => {
      await defineAgent(store, 'a', [{ type: 'order.*' }]);
      await ingest(store, [cloudEvent('1', 'order.placed'), cloudEvent('2', 'invoice.paid')]);
      await reconfigureAgent(store, 'a', [{ type: 'invoice.*' }]);
      await ingest(store, [cloudEvent('3', 'order.placed'), cloudEvent('4', 'invoice.paid')]);
      await routeAll();

      expect(await mailboxIds(store, 'a')).toEqual(['1', '4']);
    });

    it('given a paused agent, when reconfigured, then it stays paused until resumed and then routes by the new subscriptions', async () => {
      await defineAgent(store, 'a', [{ type: 'order.*' }]);
      await pauseAgent(store, 'a');
      await reconfigureAgent(store, 'a', [{ type: 'invoice.*' }]);
      await ingest(store, [cloudEvent('1', 'invoice.paid')]);
      await resumeAgent(store, 'a');
      await ingest(store, [cloudEvent('2', 'order.placed'), cloudEvent('3', 'invoice.paid')]);
      await routeAll();

      expect(await mailboxIds(store, 'a')).toEqual(['3']);
    });

    it('given two tenants with agents of the same id, when each ingests events, then each agent only gets its own tenant’s events', async () => {
      await defineAgent(store, 'a', [{ type: '*' }], 'acme');
      await defineAgent(store, 'a', [{ type: '*' }], 'globex');
      await defineAgent(store, 'only-acme', [{ type: '*' }], 'acme');
      await ingest(store, [cloudEvent('1', 'order.placed')], 'acme');
      await ingest(store, [cloudEvent('2', 'order.placed')], 'globex');
      await routeAll();

      expect(await mailboxIds(store, 'a', 'acme')).toEqual(['1']);
      expect(await mailboxIds(store, 'a', 'globex')).toEqual(['2']);
      expect(await mailboxIds(store, 'only-acme', 'acme')).toEqual(['1']);
      expect(await mailbox(store, 'only-acme', 'globex')).toEqual([]);
    });

    it('given a router restarted from an older checkpoint, when it routes the same events again, then nothing is enqueued twice and lifecycle changes after the checkpoint still hold', async () => {
      await defineAgent(store, 'a', [{ type: '*' }]);
      const checkpoint = await ingest(store, [cloudEvent('1', 'order.placed')]);
      await pauseAgent(store, 'a');
      await ingest(store, [cloudEvent('2', 'order.placed')]);
      await resumeAgent(store, 'a');
      await ingest(store, [cloudEvent('3', 'order.placed')]);
      const first = await routeAll();
      await first.stop();
      const head = await store.headPosition();

      // A crash after the appends, before the checkpoint was saved.
      const checkpoints = new InMemoryCheckpointStore();
      await checkpoints.save('agent-router', checkpoint);
      const restarted = await routeAll({ checkpoints, store: await reopen() });

      expect(restarted.position).toBeGreaterThanOrEqual(head);
      expect(await store.headPosition()).toBe(head);
      expect(await mailboxIds(store, 'a')).toEqual(['1', '3']);
      expect(await checkpoints.load('agent-router')).toBeGreaterThanOrEqual(head);
    });

    it('given a router restarted from its saved checkpoint, when new events arrive, then only they are routed, to the agents active at the checkpoint', async () => {
      const checkpoints = new InMemoryCheckpointStore();
      await defineAgent(store, 'a', [{ type: '*' }]);
      await defineAgent(store, 'b', [{ type: '*' }]);
      await ingest(store, [cloudEvent('1', 'order.placed')]);
      await pauseAgent(store, 'b');
      const first = await routeAll({ checkpoints });
      await first.stop();

      await ingest(store, [cloudEvent('2', 'order.placed')]);
      await routeAll({ checkpoints });

      expect(await mailboxIds(store, 'a')).toEqual(['1', '2']);
      expect(await mailboxIds(store, 'b')).toEqual(['1']);
    });

    it('given the mailbox appends of a batch fail once, when the batch is retried, then it is routed against the agents as they were before it', async () => {
      const checkpoints = new InMemoryCheckpointStore();
      await defineAgent(store, 'a', [{ type: '*' }]);
      await pauseAgent(store, 'a');
      const first = await routeAll({ checkpoints });
      await first.stop();
      // One batch: the agent is paused at its first event and resumed within it.
      await ingest(store, [cloudEvent('1', 'order.placed')]);
      await resumeAgent(store, 'a');
      await ingest(store, [cloudEvent('2', 'order.placed')]);
      const errors: unknown[] = [];
      await routeAll({ checkpoints, store: new MisbehavingStore(store, { appendFailures: 1 }), onError: (error) => errors.push(error) });

      expect(errors).toHaveLength(1);
      expect(await mailboxIds(store, 'a')).toEqual(['2']);
    });

    it('given an old batch delivered again after newer ones, when routed, then it changes nothing (a paused agent stays paused)', async () => {
      await defineAgent(store, 'a', [{ type: '*' }]);
      await ingest(store, [cloudEvent('1', 'order.placed')]);
      await pauseAgent(store, 'a');
      await ingest(store, [cloudEvent('2', 'order.placed')]);
      await ingest(store, [cloudEvent('3', 'order.placed')]);
      await routeAll({ store: new MisbehavingStore(store, { redeliverFirstBatch: true }), batchSize: 1 });

      expect(await mailboxIds(store, 'a')).toEqual(['1']);
    });

    it('given events for many subjects interleaved, when routed in several batches, then every mailbox holds its inputs in global position order', async () => {
      await defineAgent(store, 'orders', [{ type: 'order.*' }]);
      await defineAgent(store, 'even', [{ type: '*', filter: { '==': [{ '%': [{ var: 'data.n' }, 2] }, 0] } }]);
      const events = Array.from({ length: 60 }, (_, n) => cloudEvent(String(n), n % 3 === 0 ? 'invoice.paid' : 'order.placed', { n }, `subject-${n % 7}`));
      for (let i = 0; i < events.length; i += 10) await ingest(store, events.slice(i, i + 10));
      await routeAll({ batchSize: 7 });

      const ingested = await store.readAll({ filter: { streamPrefixes: ['default/entity-'] } });
      for (const agentId of ['orders', 'even']) {
        const positions = (await mailbox(store, agentId)).map((entry) => (entry.data.input.kind === 'event' ? entry.data.input.position : -1));
        expect(positions).toEqual([...positions].sort((x, y) => x - y));
      }
      const expectedOrders = ingested.filter((e) => e.type.startsWith('order.')).map((e) => e.eventId);
      expect((await mailbox(store, 'orders')).map((entry) => entry.data.input.ref)).toEqual(expectedOrders);
      const expectedEven = ingested.filter((e) => (e.data as { n: number }).n % 2 === 0).map((e) => e.eventId);
      expect((await mailbox(store, 'even')).map((entry) => entry.data.input.ref)).toEqual(expectedEven);
    });

    it(`given ${volume.agents} agents and ${volume.events} events ingested while the router runs, when routed (and routed again by a second router), then every input is enqueued exactly once`, async () => {
      for (let i = 0; i < volume.agents; i++) await defineAgent(store, `agent-${i}`, [{ type: '*' }]);
      const live = router();
      await live.start();
      const ids = Array.from({ length: volume.events }, (_, n) => String(n));
      let head = 0;
      for (let i = 0; i < ids.length; i += 250) {
        head = await ingest(store, ids.slice(i, i + 250).map((id) => cloudEvent(id, 'order.placed', {}, `subject-${Number(id) % 13}`)));
      }
      await live.waitUntilProcessed(head);
      const afterFirst = await store.headPosition();
      await routeAll();

      expect(await store.headPosition()).toBe(afterFirst);
      const expectedRefs = (await store.readAll({ filter: { streamPrefixes: ['default/entity-'] } })).map((e) => e.eventId);
      expect(expectedRefs).toHaveLength(volume.events);
      for (let i = 0; i < volume.agents; i++) {
        const refs = (await mailbox(store, `agent-${i}`)).map((entry) => entry.data.input.ref);
        expect(refs).toEqual(expectedRefs);
      }
    }, 120_000);

    it('given a router that stops, when someone waits (or starts waiting) for a position it has not reached, then the wait is rejected', async () => {
      const live = router();
      await live.start();
      const waiting = live.waitUntilProcessed((await store.headPosition()) + 10);
      await live.stop();
      await expect(waiting).rejects.toThrow(/stopped/);
      await expect(live.waitUntilProcessed((await store.headPosition()) + 10)).rejects.toThrow(/not running/);
    });
  });
}
