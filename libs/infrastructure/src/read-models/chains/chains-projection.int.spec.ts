import { streamName, type EventStore, type RecordedEvent } from '@meridian/domain';
import { ProjectionManager } from '../engine/projection-manager';
import { EventsProjection } from '../ingestion/events.projection';
import { ChainsReadRepository } from '../queries/chains.read-repository';
import { dumpProjectionVersion } from '../testing/read-model-dump';
import { CapturingLogger, cloudEvent, ingest, readModelBackends, type ReadModelTestEnvironment } from '../testing/read-model-test-kit.fixture';
import { appendAgentChain } from './agent-chain.fixture';
import { ChainsProjection } from './chains.projection';

const WAIT = { timeoutMs: 30_000 };

async function ingestOne(store: EventStore, type: string, subject: string, tenantId = 'default'): Promise<RecordedEvent> {
  await ingest(store, [cloudEvent(type, subject, { subject })], tenantId);
  const stream = await store.readStream(streamName('entity', subject, tenantId));
  return stream[stream.length - 1];
}

for (const backend of readModelBackends) {
  backend.describe(`chains read model (${backend.name})`, () => {
    let env: ReadModelTestEnvironment;
    let manager: ProjectionManager;
    let chains: ChainsReadRepository;

    beforeEach(async () => {
      env = await backend.open();
      manager = new ProjectionManager({
        store: env.store,
        dataSource: env.database.writer,
        readDataSource: env.database.reader,
        projections: [new EventsProjection(), new ChainsProjection()],
        // Small batches: a chain's summary row is loaded, changed and written back across batches.
        batchSize: 3,
        pollIntervalMs: 20,
      });
      await manager.start();
      chains = new ChainsReadRepository(env.database.reader);
    });

    afterEach(async () => {
      await manager.stop();
      await env.close();
    });

    it('projects a chain of two agents: nodes in order with their causes, budgets used and the halt', async () => {
      const root = await ingestOne(env.store, 'order.placed', 'order-1');
      const bystander = await ingestOne(env.store, 'order.paid', 'order-2');
      const chain = await appendAgentChain({ store: env.store, root, agentA: 'agent-a', agentB: 'agent-b', idPrefix: 'c1', repeatCount: true });
      await manager.waitForPosition(chain.lastPosition, WAIT);

      const view = await chains.get(root.eventId);
      expect(view).not.toBeNull();
      const { ids } = chain;
      expect(view?.root).toEqual({ id: root.eventId, type: 'order.placed', position: root.position, subject: 'order-1' });
      expect(view?.nodes.map(({ eventId, type, hop, causationId, agentId, decisionId, streamName: stream }) => ({ eventId, type, hop, causationId, agentId, decisionId, stream }))).toEqual([
        { eventId: ids.mailboxA, type: 'mailbox.input-enqueued', hop: 0, causationId: root.eventId, agentId: 'agent-a', decisionId: null, stream: 'default/mailbox-agent-a' },
        { eventId: ids.decisionA, type: 'agent.decision-recorded', hop: 1, causationId: ids.mailboxA, agentId: 'agent-a', decisionId: 'c1-d-a', stream: 'default/agent-agent-a' },
        { eventId: ids.countA, type: 'chain.decision-counted', hop: 1, causationId: ids.decisionA, agentId: 'agent-a', decisionId: 'c1-d-a', stream: `default/chain-${root.eventId}` },
        { eventId: ids.sentA, type: 'agent.message-sent', hop: 1, causationId: ids.decisionA, agentId: 'agent-a', decisionId: 'c1-d-a', stream: 'default/agent-agent-a' },
        { eventId: ids.executedA, type: 'agent.action-executed', hop: 1, causationId: ids.decisionA, agentId: 'agent-a', decisionId: 'c1-d-a', stream: 'default/agent-agent-a' },
        { eventId: 'c1-count-a-again', type: 'chain.decision-counted', hop: 1, causationId: ids.decisionA, agentId: 'agent-a', decisionId: 'c1-d-a', stream: `default/chain-${root.eventId}` },
        { eventId: ids.mailboxB, type: 'mailbox.input-enqueued', hop: 1, causationId: ids.sentA, agentId: 'agent-b', decisionId: null, stream: 'default/mailbox-agent-b' },
        { eventId: ids.decisionB, type: 'agent.decision-recorded', hop: 2, causationId: ids.mailboxB, agentId: 'agent-b', decisionId: 'c1-d-b', stream: 'default/agent-agent-b' },
        { eventId: ids.countB, type: 'chain.decision-counted', hop: 2, causationId: ids.decisionB, agentId: 'agent-b', decisionId: 'c1-d-b', stream: `default/chain-${root.eventId}` },
        // What an agent emits into an entity stream is in the chain (hop > 0); who emitted it comes from the actor.
        { eventId: ids.emittedB, type: 'order.flagged', hop: 2, causationId: ids.decisionB, agentId: 'agent-b', decisionId: null, stream: 'default/entity-order-1' },
        { eventId: ids.halted, type: 'chain.halted', hop: 2, causationId: ids.emittedB, agentId: 'agent-a', decisionId: null, stream: `default/chain-${root.eventId}` },
      ]);
      const positions = view?.nodes.map((node) => node.position) ?? [];
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(positions[0]).toBeGreaterThan(root.position);
      expect(view?.nodes[1].occurredAt).toBe('2026-04-01T12:00:02.000Z');
      expect(view?.edges).toEqual(view?.nodes.map((node) => ({ from: node.causationId, to: node.eventId })));
      expect(view?.edges[0]).toEqual({ from: root.eventId, to: ids.mailboxA });

      // The repeated count of decision A is not counted twice, as in the runtime's chain fold.
      expect(view?.used.decisions).toBe(2);
      expect(view?.used.tokens).toBe(420);
      expect(view?.used.hops).toBe(2);
      expect(view?.used.costUsd).toBeCloseTo(0.007, 10);
      expect(view?.halted).toEqual({ reason: 'max-decisions', limit: 2, used: 3, agentId: 'agent-a', haltedAt: chain.haltedAt });
      expect(view).toMatchObject({
        correlationId: root.eventId,
        tenantId: 'default',
        agentIds: ['agent-a', 'agent-b'],
        nodeCount: 11,
        truncated: false,
        firstPosition: positions[0],
        lastPosition: chain.lastPosition,
        updatedAt: '2026-04-01T12:00:11.000Z',
      });

      // A hop-0 ingested event no agent took part in is not a chain; nor is another tenant's id.
      expect(await chains.get(bystander.eventId)).toBeNull();
      expect(await chains.get(root.eventId, 'acme')).toBeNull();
    });

    it('keeps chains of different tenants and correlation ids apart; an API-started chain is its own root', async () => {
      const root = await ingestOne(env.store, 'order.placed', 'order-9', 'acme');
      const acme = await appendAgentChain({ store: env.store, root, agentA: 'agent-a', agentB: 'agent-b', idPrefix: 'acme' });
      // A person's message starts a chain of its own (correlationId = the message event's id).
      const posted = await env.store.append(
        streamName('conversation', 'conv-1'),
        [
          {
            eventId: 'msg-event-1',
            type: 'conversation.message-posted',
            data: { conversationId: 'conv-1', messageId: 'm1', content: 'hi', author: { kind: 'user', id: 'alice' } },
            metadata: { occurredAt: '2026-04-02T00:00:00.000Z', correlationId: 'msg-event-1', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'user', id: 'alice' } },
          },
        ],
        { expected: 'any' },
      );
      await manager.waitForPosition(Math.max(acme.lastPosition, posted.position), WAIT);

      expect(await chains.get(root.eventId)).toBeNull();
      const acmeView = await chains.get(root.eventId, 'acme');
      expect(acmeView?.nodes.map((node) => node.streamName)).toContain('acme/mailbox-agent-a');
      expect(acmeView?.root).toEqual({ id: root.eventId, type: 'order.placed', position: root.position, subject: 'order-9' });
      expect(acmeView?.used).toEqual({ hops: 2, decisions: 2, tokens: 420, costUsd: expect.closeTo(0.007, 10) });

      const conversation = await chains.get('msg-event-1');
      expect(conversation).toMatchObject({
        root: { id: 'msg-event-1', type: 'conversation.message-posted', position: posted.position, subject: null },
        nodes: [{ eventId: 'msg-event-1', causationId: null, hop: 0, agentId: null, streamName: 'default/conversation-conv-1' }],
        edges: [],
        agentIds: [],
        used: { hops: 0, decisions: 0, tokens: 0, costUsd: 0 },
        halted: null,
      });
    });

    it('rebuilding reproduces the rows exactly', async () => {
      const first = await appendAgentChain({ store: env.store, root: await ingestOne(env.store, 'order.placed', 'order-1'), agentA: 'a1', agentB: 'b1', idPrefix: 'r1', repeatCount: true });
      const second = await appendAgentChain({ store: env.store, root: await ingestOne(env.store, 'order.placed', 'order-2', 'acme'), agentA: 'a2', agentB: 'b2', idPrefix: 'r2' });
      await manager.waitForPosition(Math.max(first.lastPosition, second.lastPosition), WAIT);
      const projection = new ChainsProjection();
      const before = await dumpProjectionVersion(env.database.reader, projection, 1);
      expect(before.rm_chains).toHaveLength(2);
      expect(before.rm_chain_nodes).toHaveLength(21);

      await manager.stop();
      const logger = new CapturingLogger();
      manager = new ProjectionManager({ store: env.store, dataSource: env.database.writer, readDataSource: env.database.reader, projections: [new EventsProjection(), projection], pollIntervalMs: 20, logger });
      await manager.start();
      await manager.rebuild(projection.name);
      await logger.waitFor('projection switched to rebuilt version', { projection: projection.name, toVersion: 2 });
      expect(await dumpProjectionVersion(env.database.reader, projection, 2)).toEqual(before);
      expect((await chains.get(first.correlationId))?.used.decisions).toBe(2);
    });
  });
}
