import { DeciderCommandExecutor } from '@meridian/agents';
import {
  agentDecider,
  conversationDecider,
  streamName,
  triggerDecider,
  type AgentCommand,
  type CommandContext,
  type ConversationCommand,
  type TriggerCommand,
} from '@meridian/domain';
import { AgentsProjection } from './agents/agents.projection';
import { ConversationsProjection } from './conversations/conversations.projection';
import { ProjectionManager } from './engine/projection-manager';
import { AgentsReadRepository } from './queries/agents.read-repository';
import { ConversationsReadRepository } from './queries/conversations.read-repository';
import { TriggersReadRepository } from './queries/triggers.read-repository';
import { dumpProjectionVersion } from './testing/read-model-dump';
import { CapturingLogger, cloudEvent, ingest, readModelBackends, type ReadModelTestEnvironment } from './testing/read-model-test-kit.fixture';
import { TriggersProjection } from './triggers/triggers.projection';

const WAIT = { timeoutMs: 30_000 };

const definition = (name: string) => ({
  name,
  kind: 'monitor' as const,
  engine: { type: 'rules' as const, rules: [{ then: [{ action: 'reply' as const, text: 'seen {{event.subject}}' }] }] },
  tools: ['reply' as const, 'remember' as const, 'propose' as const],
});

for (const backend of readModelBackends) {
  backend.describe(`aggregate read models (${backend.name})`, () => {
    let env: ReadModelTestEnvironment;
    let manager: ProjectionManager;
    let executor: DeciderCommandExecutor;
    let clock = 0;
    let ids = 0;

    const context = (tenantId = 'default'): CommandContext => ({
      now: new Date(Date.UTC(2026, 2, 1, 0, 0, clock++)).toISOString(),
      actor: { kind: 'user', id: 'alice' },
      tenantId,
      correlationId: 'corr-1',
      newId: () => `generated-${++ids}`,
    });
    const agent = (id: string, command: AgentCommand, tenantId?: string) =>
      executor.execute({ decider: agentDecider, streamName: streamName('agent', id, tenantId), command, context: context(tenantId) });
    const conversation = (id: string, command: ConversationCommand) =>
      executor.execute({ decider: conversationDecider, streamName: streamName('conversation', id), command, context: context() });
    const trigger = (id: string, command: TriggerCommand) => executor.execute({ decider: triggerDecider, streamName: streamName('trigger', id), command, context: context() });

    beforeEach(async () => {
      env = await backend.open();
      executor = new DeciderCommandExecutor(env.store);
      manager = new ProjectionManager({
        store: env.store,
        dataSource: env.database.writer,
        readDataSource: env.database.reader,
        projections: [new AgentsProjection(), new ConversationsProjection(), new TriggersProjection()],
        batchSize: 3,
        pollIntervalMs: 20,
      });
      await manager.start();
    });

    afterEach(async () => {
      await manager.stop();
      await env.close();
    });

    it('agents: definition, versions, status, revision, counters, memory and the decision ledger', async () => {
      const agents = new AgentsReadRepository(env.database.reader);
      const at = (tick: number) => new Date(Date.UTC(2026, 2, 1, 0, 0, tick)).toISOString();
      const definedAt = at(clock);
      await agent('a1', { type: 'DefineAgent', data: { agentId: 'a1', definition: definition('watcher') } });
      await agent('a2', { type: 'DefineAgent', data: { agentId: 'a2', definition: definition('second') } });
      await agent('a3', { type: 'DefineAgent', data: { agentId: 'a3', definition: definition('third') } });
      await agent('a4', { type: 'DefineAgent', data: { agentId: 'a4', definition: definition('elsewhere') } }, 'acme');
      await agent('a1', { type: 'ReconfigureAgent', data: { agentId: 'a1', changes: { name: 'order-watcher', kind: 'analyst' } } });
      const reconfiguredAt = at(clock - 1);
      await agent('a2', { type: 'PauseAgent', data: { agentId: 'a2', reason: 'maintenance' } });
      await agent('a3', { type: 'RetireAgent', data: { agentId: 'a3' } });
      await agent('a1', {
        type: 'RecordDecision',
        data: {
          agentId: 'a1',
          decisionId: 'd1',
          input: { kind: 'event', ref: 'evt-1', payload: { subject: 'order-1' } },
          engine: { type: 'rules' },
          definitionVersion: 2,
          output: { matched: ['rule-0'] },
          actions: [
            { action: 'reply', text: 'seen order-1' },
            { action: 'remember', key: 'last', value: 'order-1' },
          ],
          usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
          latencyMs: 1.5,
        },
      });
      await agent('a1', { type: 'RecordActionResult', data: { agentId: 'a1', decisionId: 'd1', index: 1, outcome: { status: 'succeeded', result: { key: 'last', value: 'order-1' } } } });
      await agent('a1', { type: 'RecordActionResult', data: { agentId: 'a1', decisionId: 'd1', index: 0, outcome: { status: 'failed', error: { message: 'no channel' } } } });
      const last = await agent('a1', { type: 'ReceiveMessage', data: { agentId: 'a1', messageId: 'm1', from: { kind: 'user', id: 'alice' }, content: 'hello' } });
      // An ingested CloudEvent that merely carries an agent event type is not the agent's.
      const head = await ingest(env.store, [cloudEvent('agent.defined', 'a9', { agentId: 'a9', definition: definition('impostor'), version: 1 })]);
      await manager.waitForPosition(head, WAIT);

      const a1 = await agents.get('a1');
      expect(a1).toEqual({
        id: 'a1',
        tenantId: 'default',
        name: 'order-watcher',
        kind: 'analyst',
        status: 'active',
        statusReason: null,
        definition: expect.objectContaining({ name: 'order-watcher', kind: 'analyst', tools: ['reply', 'remember', 'propose'], mailboxPolicy: 'queue' }),
        definitionVersion: 2,
        revision: last.revision,
        decisionCount: 1,
        messageCount: 1,
        memory: { last: 'order-1' },
        createdAt: definedAt,
        updatedAt: reconfiguredAt,
        lastPosition: last.position,
      });
      expect(await agents.get('a2')).toMatchObject({ status: 'paused', statusReason: 'maintenance' });
      expect(await agents.get('a3')).toMatchObject({ status: 'retired' });
      expect(await agents.get('a9')).toBeNull();
      expect(await agents.get('a4')).toBeNull();
      expect(await agents.get('a4', 'acme')).toMatchObject({ name: 'elsewhere' });

      expect((await agents.list()).items.map((item) => item.id)).toEqual(['a1', 'a2']);
      expect((await agents.list({ status: ['retired'] })).items.map((item) => item.id)).toEqual(['a3']);
      expect((await agents.list({ tenantId: 'acme' })).items.map((item) => item.id)).toEqual(['a4']);
      const firstPage = await agents.list({ limit: 1, status: ['active', 'paused', 'retired'] });
      const secondPage = await agents.list({ limit: 1, status: ['active', 'paused', 'retired'], cursor: firstPage.nextCursor });
      const thirdPage = await agents.list({ limit: 1, status: ['active', 'paused', 'retired'], cursor: secondPage.nextCursor });
      expect([...firstPage.items, ...secondPage.items, ...thirdPage.items].map((item) => item.id)).toEqual(['a1', 'a2', 'a3']);

      const decisions = await agents.decisions('a1');
      expect(decisions.nextCursor).toBeNull();
      expect(decisions.items).toEqual([
        {
          decisionId: 'd1',
          agentId: 'a1',
          input: { kind: 'event', ref: 'evt-1', payload: { subject: 'order-1' } },
          engine: { type: 'rules' },
          definitionVersion: 2,
          output: { matched: ['rule-0'] },
          actions: [
            { index: 0, action: { action: 'reply', text: 'seen order-1' }, status: 'failed', error: { message: 'no channel' } },
            { index: 1, action: { action: 'remember', key: 'last', value: 'order-1' }, status: 'succeeded', result: { key: 'last', value: 'order-1' } },
          ],
          usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
          latencyMs: 1.5,
          correlationId: 'corr-1',
          status: 'decided',
          decidedAt: expect.any(String),
          position: expect.any(Number),
        },
      ]);
    });

    it('conversations: messages in order, approvals pending until resolved, expired or cancelled', async () => {
      const conversations = new ConversationsReadRepository(env.database.reader);
      await agent('a1', { type: 'DefineAgent', data: { agentId: 'a1', definition: definition('helper') } });
      await conversation('c1', { type: 'StartConversation', data: { conversationId: 'c1', agentIds: ['a1'], title: 'Order help' } });
      await conversation('c2', { type: 'StartConversation', data: { conversationId: 'c2', agentIds: ['a1'] } });
      await conversation('c1', { type: 'PostMessage', data: { conversationId: 'c1', messageId: 'm1', content: 'Where is my order?', author: { kind: 'user', id: 'alice' } } });
      await conversation('c1', { type: 'RecordReply', data: { conversationId: 'c1', messageId: 'r1', agentId: 'a1', content: 'Checking.', decisionId: 'd1', inReplyTo: 'm1' } });
      await conversation('c1', { type: 'PostMessage', data: { conversationId: 'c1', messageId: 'm2', content: 'Thanks', author: { kind: 'user', id: 'alice' } } });
      for (const approvalId of ['ap1', 'ap2', 'ap3']) {
        await conversation('c1', {
          type: 'RequestApproval',
          data: { conversationId: 'c1', approvalId, agentId: 'a1', decisionId: 'd1', action: { action: 'call-webhook', url: 'https://example.test/refund' }, reason: 'refund' },
        });
      }
      await conversation('c1', { type: 'ResolveApproval', data: { conversationId: 'c1', approvalId: 'ap1', decision: 'approve', comment: 'ok' } });
      let last = await conversation('c1', { type: 'ExpireApproval', data: { conversationId: 'c1', approvalId: 'ap2', decision: 'reject' } });
      await manager.waitForPosition(last.position, WAIT);

      const open = await conversations.get('c1');
      expect(open).toMatchObject({ id: 'c1', title: 'Order help', status: 'open', agentIds: ['a1'], startedBy: { kind: 'user', id: 'alice' }, messageCount: 3, pendingApprovalCount: 1, revision: last.revision });
      expect(open?.messages.map(({ messageId, kind, author, content, inReplyTo }) => ({ messageId, kind, author, content, inReplyTo }))).toEqual([
        { messageId: 'm1', kind: 'message', author: { kind: 'user', id: 'alice' }, content: 'Where is my order?', inReplyTo: null },
        { messageId: 'r1', kind: 'reply', author: { kind: 'agent', id: 'a1' }, content: 'Checking.', inReplyTo: 'm1' },
        { messageId: 'm2', kind: 'message', author: { kind: 'user', id: 'alice' }, content: 'Thanks', inReplyTo: null },
      ]);
      expect(open?.pendingApprovals.map((approval) => ({ id: approval.approvalId, status: approval.status, action: approval.action, reason: approval.reason }))).toEqual([
        { id: 'ap3', status: 'pending', action: { action: 'call-webhook', url: 'https://example.test/refund' }, reason: 'refund' },
      ]);
      expect((await conversations.approvals('c1')).map(({ approvalId, status, decision, comment }) => ({ approvalId, status, decision, comment }))).toEqual([
        { approvalId: 'ap1', status: 'approved', decision: 'approve', comment: 'ok' },
        { approvalId: 'ap2', status: 'expired', decision: 'reject', comment: null },
        { approvalId: 'ap3', status: 'pending', decision: null, comment: null },
      ]);
      const page = await conversations.messages('c1', { limit: 2 });
      expect(page.items.map((message) => message.messageId)).toEqual(['m1', 'r1']);
      expect((await conversations.messages('c1', { limit: 2, cursor: page.nextCursor })).items.map((message) => message.messageId)).toEqual(['m2']);

      last = await conversation('c1', { type: 'CloseConversation', data: { conversationId: 'c1', reason: 'done' } });
      await manager.waitForPosition(last.position, WAIT);
      const closed = await conversations.get('c1');
      expect(closed).toMatchObject({ status: 'closed', closeReason: 'done', pendingApprovalCount: 0, pendingApprovals: [] });
      expect((await conversations.approvals('c1')).map((approval) => approval.status)).toEqual(['approved', 'expired', 'cancelled']);
      expect((await conversations.list()).items.map((item) => ({ id: item.id, messageCount: item.messageCount }))).toEqual([
        { id: 'c1', messageCount: 3 },
        { id: 'c2', messageCount: 0 },
      ]);
      expect(await conversations.get('nope')).toBeNull();
    });

    it('triggers: definition versions, enabled and deleted, firings with their matched events', async () => {
      const triggers = new TriggersReadRepository(env.database.reader);
      await agent('a1', { type: 'DefineAgent', data: { agentId: 'a1', definition: definition('owner') } });
      const condition = { kind: 'event' as const, match: { type: 'order.placed' } };
      const action = { kind: 'wake-agent' as const, task: 'Look at {{subject}}' };
      await trigger('t1', { type: 'DefineTrigger', data: { triggerId: 't1', name: 'placed', agentId: 'a1', condition, action } });
      await trigger('t2', { type: 'DefineTrigger', data: { triggerId: 't2', name: 'other', agentId: 'a1', condition, action, enabled: false } });
      await trigger('t1', { type: 'ChangeTrigger', data: { triggerId: 't1', changes: { name: 'placed-orders', cooldown: 'PT10M' } } });
      await trigger('t2', { type: 'DeleteTrigger', data: { triggerId: 't2' } });
      const matched = [{ eventId: 'e1', position: 11, type: 'order.placed', subject: 'order-1' }];
      await trigger('t1', { type: 'FireTrigger', data: { triggerId: 't1', firingId: 'f1', occurrenceKey: 'order-1', matchedEvents: matched, firedAt: '2026-03-01T10:00:00.000Z' } });
      const last = await trigger('t1', {
        type: 'FireTrigger',
        data: { triggerId: 't1', firingId: 'f2', occurrenceKey: 'order-2', matchedEvents: [{ eventId: 'e2', position: 12, type: 'order.placed', subject: 'order-2' }], firedAt: '2026-03-01T11:00:00.000Z' },
      });
      await manager.waitForPosition(last.position, WAIT);

      expect(await triggers.get('t1')).toMatchObject({
        id: 't1',
        agentId: 'a1',
        name: 'placed-orders',
        definition: { name: 'placed-orders', cooldown: 'PT10M', action },
        definitionVersion: 2,
        enabled: true,
        deleted: false,
        firingCount: 2,
        lastFiredAt: '2026-03-01T11:00:00.000Z',
        revision: last.revision,
      });
      expect(await triggers.get('t2')).toMatchObject({ enabled: false, deleted: true });
      expect((await triggers.list()).items.map((item) => item.id)).toEqual(['t1']);
      expect((await triggers.list({ includeDeleted: true })).items.map((item) => item.id)).toEqual(['t1', 't2']);
      expect((await triggers.list({ agentId: 'someone-else' })).items).toEqual([]);
      const firings = await triggers.firings('t1');
      expect(firings.items.map(({ firingId, occurrenceKey, matchedEvents, definitionVersion, firedAt, action: fired }) => ({ firingId, occurrenceKey, matchedEvents, definitionVersion, firedAt, fired }))).toEqual([
        { firingId: 'f1', occurrenceKey: 'order-1', matchedEvents: matched, definitionVersion: 2, firedAt: '2026-03-01T10:00:00.000Z', fired: action },
        { firingId: 'f2', occurrenceKey: 'order-2', matchedEvents: [{ eventId: 'e2', position: 12, type: 'order.placed', subject: 'order-2' }], definitionVersion: 2, firedAt: '2026-03-01T11:00:00.000Z', fired: action },
      ]);
      const paged = await triggers.firings('t1', { limit: 1 });
      expect((await triggers.firings('t1', { limit: 1, cursor: paged.nextCursor })).items.map((firing) => firing.firingId)).toEqual(['f2']);
    });

    it('rebuilding the aggregate projections reproduces their rows exactly', async () => {
      await agent('a1', { type: 'DefineAgent', data: { agentId: 'a1', definition: definition('helper') } });
      await conversation('c1', { type: 'StartConversation', data: { conversationId: 'c1', agentIds: ['a1'] } });
      await conversation('c1', { type: 'PostMessage', data: { conversationId: 'c1', messageId: 'm1', content: 'hi', author: { kind: 'user', id: 'bob' } } });
      await conversation('c1', { type: 'RequestApproval', data: { conversationId: 'c1', approvalId: 'ap1', agentId: 'a1', decisionId: 'd1', action: { action: 'reply', text: 'x' } } });
      await trigger('t1', { type: 'DefineTrigger', data: { triggerId: 't1', name: 't', agentId: 'a1', condition: { kind: 'event', match: { type: 'x.*' } }, action: { kind: 'wake-agent', task: 'go' } } });
      const last = await trigger('t1', { type: 'FireTrigger', data: { triggerId: 't1', firingId: 'f1', occurrenceKey: 'k', matchedEvents: [] } });
      await manager.waitForPosition(last.position, WAIT);
      const projections = [new AgentsProjection(), new ConversationsProjection(), new TriggersProjection()];
      const before = await Promise.all(projections.map((projection) => dumpProjectionVersion(env.database.reader, projection, 1)));

      await manager.stop();
      const logger = new CapturingLogger();
      manager = new ProjectionManager({ store: env.store, dataSource: env.database.writer, readDataSource: env.database.reader, projections, pollIntervalMs: 20, logger });
      await manager.start();
      for (const projection of projections) {
        await manager.rebuild(projection.name);
        await logger.waitFor('projection switched to rebuilt version', { projection: projection.name, toVersion: 2 });
      }
      const after = await Promise.all(projections.map((projection) => dumpProjectionVersion(env.database.reader, projection, 2)));
      expect(after).toEqual(before);
      expect(JSON.stringify(after)).toContain('"ap1"');
    });
  });
}
