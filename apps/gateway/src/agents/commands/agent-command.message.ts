import type { AgentCommand, AgentState } from '@meridian/domain';
import type { CommandContext } from '@meridian/domain';

/** The CommandBus message for every agent command: routed to AgentCommandHandler. */
export class AgentCommandMessage {
  constructor(
    readonly command: AgentCommand,
    readonly context: CommandContext,
    readonly expectedRevision?: number,
  ) {}
}

export interface AgentCommandOutcome {
  readonly state: AgentState;
  readonly revision: number;
  readonly position: number;
}
