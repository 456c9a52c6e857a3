import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { agentDecider, streamName } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { AgentCommandMessage, type AgentCommandOutcome } from './agent-command.message';

/** Load the agent, decide, append with the exact expected revision. */
@CommandHandler(AgentCommandMessage)
export class AgentCommandHandler implements ICommandHandler<AgentCommandMessage, AgentCommandOutcome> {
  constructor(private readonly executor: DeciderCommandExecutor) {}

  async execute(message: AgentCommandMessage): Promise<AgentCommandOutcome> {
    const result = await this.executor.execute({
      decider: agentDecider,
      streamName: streamName('agent', message.command.data.agentId, message.context.tenantId),
      command: message.command,
      context: message.context,
      ...(message.expectedRevision !== undefined ? { expectedRevision: message.expectedRevision } : {}),
    });
    return { state: result.state, revision: result.revision, position: result.position };
  }
}
