/**
 * Firings' actions, end to end in the core: the trigger engine records a firing, the agent router
 * carries out its action (a task in the agent's mailbox, a message to another agent, an event in
 * the store), in the chain of the event that completed it — once, however often it is routed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamName, triggerDecider, type EventStore, type MailboxTaskInput, type TriggerAction, type TriggerConditionInput } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { IngestEventsService } from '../ingestion/ingest-events.service';
import { AgentRouter } from '../runtime/agent-router';
import { defineAgent, mailbox, retireAgent } from '../runtime/agent-router.fixture';
import { InMemoryCheckpointStore } from '../runtime/checkpoint-store.port';
import { TriggerEngine } from './trigger-engine';
import { InMemoryTriggerStateStore } from './trigger-state-store.port';

const T0 = Date.parse('2026-05-04T08:00:00.000Z');
const iso = (offset: number) => new Date(T0 + offset).toISOString();

async function defineTrigger(store: EventStore, triggerId: string, agentId: string, condition: TriggerConditionInput, action: TriggerAction): Promise<void> {
  const events = triggerDecider.decide(
    { type: 'DefineTrigger', data: { triggerId, name: triggerId, agentId, condition, action } },
    null,
    { now: iso(0), actor: { kind: 'user', id: 'ops' }, tenantId: 'default', correlationId: 'setup', newId: () => 'unused' },
  );
  await store.append(
    streamName('trigger', triggerId),
    events.map((event, index) => ({ eventId: `${triggerId}-def-${index}`, type: event.type, data: event.data, metadata: { occurredAt: iso(0), correlationId: 'setup', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'user', id: 'ops' } } })),
    { expected: 'no_stream' },
  );
}

describe('Trigger actions (engine → router → mailboxes and store)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let engine: TriggerEngine;
  let router: AgentRouter;
  let now: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-trigger-actions-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
    now = T0;
    engine = new TriggerEngine({ store, states: new InMemoryTriggerStateStore(), clock: () => now, allowedLatenessMs: 0, tickMs: 0, commitIntervalMs: 0, maxHops: 5 });
    router = new AgentRouter({ store, checkpoints: new InMemoryCheckpointStore() });
    await defineAgent(store, 'watcher', []);
    await defineAgent(store, 'shipping', []);
  });

  afterEach(async () => {
    await engine.stop();
    await router.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(): Promise<void> {
    await engine.start();
    await router.start();
    await engine.waitUntilProcessed(await store.headPosition());
    now = T0 + 10 * 60_000;
    await engine.tick();
    await router.waitUntilProcessed(await store.headPosition());
  }

  const ingest = (events: { id: string; type: string; subject: string; data?: unknown; time: string }[]) =>
    new IngestEventsService(store).ingest(
      events.map((event) => ({ specversion: '1.0' as const, source: 'shop', ...event })),
      { tenantId: 'default', actor: { kind: 'api-key', id: 'k' }, requestId: 'r', receivedAt: iso(0) },
    );
  const absence: TriggerConditionInput = { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2M' };

  it('wake-agent: a task with the rendered text and the matched events lands in the owning agent\'s mailbox, in the chain, once', async () => {
    await defineTrigger(store, 'unshipped', 'watcher', absence, { kind: 'wake-agent', task: 'Order {{subject}} ({{event.data.total}} EUR) has not shipped' });
    await ingest([{ id: 'o1', type: 'order.placed', subject: 'order-1', data: { total: 42 }, time: iso(0) }]);
    await run();
    const entries = await mailbox(store, 'watcher');
    expect(entries).toHaveLength(1);
    const input = entries[0].data.input as MailboxTaskInput;
    expect(input).toEqual(expect.objectContaining({ kind: 'task', triggerId: 'unshipped', task: 'Order order-1 (42 EUR) has not shipped' }));
    expect(input.context).toEqual(
      expect.objectContaining({ subject: 'order-1', events: [expect.objectContaining({ type: 'order.placed', subject: 'order-1', data: { total: 42 } })] }),
    );
    const [placed] = await store.readAll({ filter: { types: ['order.placed'] } });
    expect(entries[0].metadata).toEqual(expect.objectContaining({ correlationId: placed.metadata.correlationId, hop: placed.metadata.hop + 1 }));

    // Routing everything again (a router that lost its checkpoint) enqueues nothing twice.
    const again = new AgentRouter({ store, checkpoints: new InMemoryCheckpointStore() });
    await again.start();
    await again.waitUntilProcessed(await store.headPosition());
    await again.stop();
    expect(await mailbox(store, 'watcher')).toHaveLength(1);
  });

  it('send-message: the other agent gets a message from the trigger\'s agent; a retired recipient gets nothing', async () => {
    await defineTrigger(store, 'tell-shipping', 'watcher', absence, { kind: 'send-message', to: 'shipping', content: 'Please ship {{subject}}' });
    await ingest([{ id: 'o2', type: 'order.placed', subject: 'order-2', time: iso(0) }]);
    await run();
    const entries = await mailbox(store, 'shipping');
    expect(entries.map((entry) => entry.data.input)).toEqual([expect.objectContaining({ kind: 'agent-message', from: 'watcher', to: 'shipping', content: 'Please ship order-2' })]);

    await retireAgent(store, 'shipping');
    await ingest([{ id: 'o3', type: 'order.placed', subject: 'order-3', time: iso(9 * 60_000) }]);
    await engine.waitUntilProcessed(await store.headPosition());
    now = T0 + 20 * 60_000;
    await engine.tick();
    await router.waitUntilProcessed(await store.headPosition());
    expect(await mailbox(store, 'shipping')).toHaveLength(1);
  });

  it('emit-event: a domain event others can react to, with rendered data, in the firing\'s chain', async () => {
    await defineTrigger(store, 'escalate', 'watcher', absence, {
      kind: 'emit-event',
      eventType: 'order.delayed',
      subject: '{{subject}}',
      data: { order: '{{subject}}', since: '{{event.time}}', priority: 2 },
    });
    await ingest([{ id: 'o4', type: 'order.placed', subject: 'order-4', time: iso(0) }]);
    await run();
    const [delayed] = await store.readAll({ filter: { types: ['order.delayed'] } });
    expect(delayed).toEqual(expect.objectContaining({ streamName: streamName('entity', 'order-4'), data: { order: 'order-4', since: iso(0), priority: 2 } }));
    const [fired] = await store.readAll({ filter: { types: ['trigger.fired'] } });
    expect(delayed.metadata).toEqual(expect.objectContaining({ correlationId: fired.metadata.correlationId, causationId: fired.eventId, hop: fired.metadata.hop }));
  });
});
