import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { streamName, triggerDecider } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { requireActiveAgents } from '../../conversations/agent-references';
import { TriggerCommandMessage, type TriggerCommandOutcome } from './trigger-command.message';

/**
 * Load the trigger, decide, append with the exact expected revision. Defining one first checks
 * that its owning agent exists and is not retired (the owner never changes afterwards).
 */
@CommandHandler(TriggerCommandMessage)
export class TriggerCommandHandler implements ICommandHandler<TriggerCommandMessage, TriggerCommandOutcome> {
  constructor(private readonly executor: DeciderCommandExecutor) {}

  async execute(message: TriggerCommandMessage): Promise<TriggerCommandOutcome> {
    const { command, context } = message;
    if (command.type === 'DefineTrigger') {
      await requireActiveAgents(this.executor, context.tenantId, [{ agentId: command.data.agentId, path: '/agentId' }]);
    }
    const result = await this.executor.execute({
      decider: triggerDecider,
      streamName: streamName('trigger', command.data.triggerId, context.tenantId),
      command,
      context,
      ...(message.expectedRevision !== undefined ? { expectedRevision: message.expectedRevision } : {}),
    });
    return { state: result.state, revision: result.revision, position: result.position };
  }
}
