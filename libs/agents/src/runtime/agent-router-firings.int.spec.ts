/**
 * How the router carries out firings (`routeFiring`, agent-router.ts): a firing's action
 * reads the store (the matched events) in the middle of a batch, and a read that fails makes the
 * subscription retry the batch. The retry must route the batch as the first attempt would have.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamName, type EventMetadata, type EventStore, type ReadAllOptions, type TriggerFired } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { AgentRouter } from './agent-router';
import { cloudEvent, defineAgent, ingest, mailbox, pauseAgent, ref } from './agent-router.fixture';
import { InMemoryCheckpointStore } from './checkpoint-store.port';

const metadata: EventMetadata = { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'setup', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'user', id: 'ops' } };

describe('AgentRouter: trigger firings', () => {
  let dir: string;
  let store: SqliteEventStore;
  let router: AgentRouter | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-trigger-routing-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
  });

  afterEach(async () => {
    await router?.stop();
    router = null;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('given an agent resumed with replayMissed and a firing in the same batch, when reading the firing\'s matched events fails once, then the retried batch still replays what the agent missed', async () => {
    let failMatchedEventRead = false;
    const flaky: EventStore = new Proxy(store, {
      get(object, property) {
        if (property === 'readAll') {
          return async (options?: ReadAllOptions) => {
            // The firing's matched event, read by position (trigger-actions.ts matchedViews).
            if (failMatchedEventRead && options?.limit === 1 && options.filter === undefined) {
              failMatchedEventRead = false;
              throw new Error('store unavailable');
            }
            return object.readAll(options);
          };
        }
        const value: unknown = Reflect.get(object, property);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
      },
    });
    router = new AgentRouter({ store: flaky, checkpoints: new InMemoryCheckpointStore() });
    await defineAgent(store, 'watcher', [{ type: 'order.*' }]);
    await ingest(store, [cloudEvent('before', 'order.placed')]);
    await router.start();
    await pauseAgent(store, 'watcher');
    await ingest(store, [cloudEvent('missed', 'order.placed')]);
    await router.waitUntilProcessed(await store.headPosition());
    expect((await mailbox(store, 'watcher')).map((entry) => entry.data.input.ref)).toEqual([ref('before')]);

    // Resumed with replayMissed, and a firing for the agent, committed together (one batch).
    const [before] = await store.readAll({ filter: { types: ['order.placed'] }, limit: 1 });
    const fired: TriggerFired['data'] = {
      triggerId: 'look-at-orders',
      agentId: 'watcher',
      version: 1,
      firingId: 'firing-1',
      occurrenceKey: `event:${before.eventId}`,
      matchedEvents: [{ eventId: before.eventId, position: before.position, type: before.type, subject: 'order-before' }],
      firedAt: '2026-01-01T00:00:00.000Z',
      action: { kind: 'wake-agent', task: 'Look at {{subject}}' },
    };
    failMatchedEventRead = true;
    await store.appendMany([
      { streamName: streamName('agent', 'watcher'), events: [{ eventId: 'resume-1', type: 'agent.resumed', data: { agentId: 'watcher', version: 1, replayMissed: true }, metadata }], expected: 'any' },
      { streamName: streamName('trigger', 'look-at-orders'), events: [{ eventId: 'firing-1', type: 'trigger.fired', data: fired, metadata }], expected: 'any' },
    ]);
    await router.waitUntilProcessed(await store.headPosition());
    expect(failMatchedEventRead).toBe(false);

    const refs = (await mailbox(store, 'watcher')).map((entry) => entry.data.input.ref);
    expect(refs).toEqual([ref('before'), ref('missed'), 'firing-1']);
  });
});
