import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { agentDecider, streamName, type AgentCommand } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { AgentCommandMessage, type AgentCommandOutcome } from './agent-command.message';

/**
 * Load the agent, decide, append with the exact expected revision. A new agent's omitted budgets
 * take the deployment's defaults (`MERIDIAN_DEFAULT_MAX_*`), written into its definition: the
 * recorded definition says which limits applied, whatever the configuration later becomes.
 */
@CommandHandler(AgentCommandMessage)
export class AgentCommandHandler implements ICommandHandler<AgentCommandMessage, AgentCommandOutcome> {
  constructor(
    private readonly executor: DeciderCommandExecutor,
    @Inject(MERIDIAN_CONFIG) private readonly config: MeridianConfig,
  ) {}

  async execute(message: AgentCommandMessage): Promise<AgentCommandOutcome> {
    const result = await this.executor.execute({
      decider: agentDecider,
      streamName: streamName('agent', message.command.data.agentId, message.context.tenantId),
      command: this.withDefaultBudgets(message.command),
      context: message.context,
      ...(message.expectedRevision !== undefined ? { expectedRevision: message.expectedRevision } : {}),
    });
    return { state: result.state, revision: result.revision, position: result.position };
  }

  private withDefaultBudgets(command: AgentCommand): AgentCommand {
    if (command.type !== 'DefineAgent') return command;
    const given = command.data.definition.budgets;
    const budgets = { ...this.config.defaultBudgets, ...(typeof given === 'object' && given !== null ? given : {}) };
    return { ...command, data: { ...command.data, definition: { ...command.data.definition, budgets } } };
  }
}
