import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { conversationDecider, streamName } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { requireActiveAgents } from '../agent-references';
import { ConversationCommandMessage, type ConversationCommandOutcome } from './conversation-command.message';

/**
 * Load the conversation, decide, append with the exact expected revision. Starting one first
 * checks that every participating agent exists and is not retired.
 */
@CommandHandler(ConversationCommandMessage)
export class ConversationCommandHandler implements ICommandHandler<ConversationCommandMessage, ConversationCommandOutcome> {
  constructor(private readonly executor: DeciderCommandExecutor) {}

  async execute(message: ConversationCommandMessage): Promise<ConversationCommandOutcome> {
    const { command, context } = message;
    if (command.type === 'StartConversation') {
      await requireActiveAgents(
        this.executor,
        context.tenantId,
        command.data.agentIds.map((agentId, index) => ({ agentId, path: `/agentIds/${index}` })),
      );
    }
    const result = await this.executor.execute({
      decider: conversationDecider,
      streamName: streamName('conversation', command.data.conversationId, context.tenantId),
      command,
      context,
      ...(message.expectedRevision !== undefined ? { expectedRevision: message.expectedRevision } : {}),
    });
    return { state: result.state, revision: result.revision, position: result.position };
  }
}
