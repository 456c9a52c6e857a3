import type { CommandContext, ConversationCommand, ConversationState } from '@meridian/domain';

/** The CommandBus message for every conversation command: routed to ConversationCommandHandler. */
export class ConversationCommandMessage {
  constructor(
    readonly command: ConversationCommand,
    readonly context: CommandContext,
    readonly expectedRevision?: number,
  ) {}
}

export interface ConversationCommandOutcome {
  readonly state: ConversationState;
  readonly revision: number;
  readonly position: number;
}
