import { randomUUID } from 'node:crypto';
import { DeciderCommandExecutor } from '@meridian/agents';
import { agentDecider, DomainError, streamName, type CommandContext } from '@meridian/domain';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { TriggerCommandHandler } from '../triggers/commands/trigger-command.handler';
import { TriggerCommandMessage } from '../triggers/commands/trigger-command.message';
import { ConversationCommandHandler } from './commands/conversation-command.handler';
import { ConversationCommandMessage } from './commands/conversation-command.message';

const context = (tenantId = 'acme'): CommandContext => ({
  now: '2026-11-27T10:00:00.000Z',
  actor: { kind: 'user', id: 'ada' },
  tenantId,
  correlationId: randomUUID(),
  newId: randomUUID,
});

async function thrownBy(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected the command to be refused');
}

/** The commands that name agents they do not own check those agents on the write model. */
describe('commands that reference agents', () => {
  let store: InMemoryEventStore;
  let executor: DeciderCommandExecutor;

  const agent = (agentId: string, tenantId = 'acme') =>
    executor.execute({
      decider: agentDecider,
      streamName: streamName('agent', agentId, tenantId),
      command: {
        type: 'DefineAgent',
        data: { agentId, definition: { name: agentId, kind: 'monitor', engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'hi' }] }] }, tools: ['reply'] } },
      },
      context: context(tenantId),
    });
  const retire = (agentId: string) =>
    executor.execute({ decider: agentDecider, streamName: streamName('agent', agentId, 'acme'), command: { type: 'RetireAgent', data: { agentId } }, context: context() });

  beforeEach(() => {
    store = new InMemoryEventStore();
    executor = new DeciderCommandExecutor(store);
  });
  afterEach(() => store.close());

  it('starts a conversation with existing agents', async () => {
    await agent('watcher');
    await agent('writer');
    const outcome = await new ConversationCommandHandler(executor).execute(
      new ConversationCommandMessage({ type: 'StartConversation', data: { conversationId: 'c1', agentIds: ['watcher', 'writer'] } }, context()),
    );
    expect(outcome.state).toMatchObject({ id: 'c1', participants: ['watcher', 'writer'], status: 'open' });
    expect(outcome.revision).toBe(0);
    expect((await store.readStream(streamName('conversation', 'c1', 'acme'))).map((e) => e.type)).toEqual(['conversation.started']);
  });

  it('refuses a conversation naming an unknown agent with 422 AGENT_NOT_FOUND, pointing at it, and writes nothing', async () => {
    await agent('watcher');
    const error = await thrownBy(
      new ConversationCommandHandler(executor).execute(
        new ConversationCommandMessage({ type: 'StartConversation', data: { conversationId: 'c1', agentIds: ['watcher', 'ghost'] } }, context()),
      ),
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'AGENT_NOT_FOUND', kind: 'unprocessable', details: { errors: [{ path: '/agentIds/1' }] } });
    expect(await store.readStream(streamName('conversation', 'c1', 'acme'))).toEqual([]);
  });

  it('refuses a retired agent with 422 AGENT_RETIRED', async () => {
    await agent('watcher');
    await retire('watcher');
    const error = await thrownBy(
      new ConversationCommandHandler(executor).execute(new ConversationCommandMessage({ type: 'StartConversation', data: { conversationId: 'c1', agentIds: ['watcher'] } }, context())),
    );
    expect(error).toMatchObject({ code: 'AGENT_RETIRED', kind: 'unprocessable', details: { errors: [{ path: '/agentIds/0' }] } });
  });

  it("does not see another tenant's agents", async () => {
    await agent('watcher', 'other-tenant');
    const error = await thrownBy(
      new TriggerCommandHandler(executor).execute(
        new TriggerCommandMessage(
          { type: 'DefineTrigger', data: { triggerId: 't1', name: 'n', agentId: 'watcher', condition: { kind: 'event', match: { type: 'order.placed' } }, action: { kind: 'wake-agent', task: 'look' } } },
          context(),
        ),
      ),
    );
    expect(error).toMatchObject({ code: 'AGENT_NOT_FOUND', details: { errors: [{ path: '/agentId' }] } });
  });

  it('defines a trigger for an existing agent, and does not check the agent again on later commands', async () => {
    await agent('watcher');
    const handler = new TriggerCommandHandler(executor);
    const defined = await handler.execute(
      new TriggerCommandMessage(
        { type: 'DefineTrigger', data: { triggerId: 't1', name: 'n', agentId: 'watcher', condition: { kind: 'event', match: { type: 'order.placed' } }, action: { kind: 'wake-agent', task: 'look' } } },
        context(),
      ),
    );
    expect(defined.state).toMatchObject({ id: 't1', agentId: 'watcher', version: 1, enabled: true });
    await retire('watcher');
    // Owned triggers of a retired agent can still be switched off and deleted.
    const disabled = await handler.execute(new TriggerCommandMessage({ type: 'DisableTrigger', data: { triggerId: 't1' } }, context(), defined.revision));
    expect(disabled.state).toMatchObject({ enabled: false });
    expect(disabled.revision).toBe(1);
  });
});
