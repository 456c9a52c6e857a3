import type { CommandContext, TriggerCommand, TriggerState } from '@meridian/domain';

/** The CommandBus message for every trigger command: routed to TriggerCommandHandler. */
export class TriggerCommandMessage {
  constructor(
    readonly command: TriggerCommand,
    readonly context: CommandContext,
    readonly expectedRevision?: number,
  ) {}
}

export interface TriggerCommandOutcome {
  readonly state: TriggerState;
  readonly revision: number;
  readonly position: number;
}
