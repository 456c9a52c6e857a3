import type { TriggerAction, TriggerConditionInput } from './trigger.definition';

/** Commands of the trigger aggregate (stream `<tenant>/trigger-<triggerId>`). */

export type DefineTrigger = {
  readonly type: 'DefineTrigger';
  readonly data: {
    readonly triggerId: string;
    readonly name: string;
    /** The agent that owns the trigger (and that `wake-agent` wakes). */
    readonly agentId: string;
    readonly condition: TriggerConditionInput;
    readonly action: TriggerAction;
    /** ISO-8601 duration; none when absent. */
    readonly cooldown?: string;
    /** Defaults to true. */
    readonly enabled?: boolean;
  };
};

/** Present fields replace the current ones (`cooldown: null` removes it); the result is a new version. */
export type ChangeTrigger = {
  readonly type: 'ChangeTrigger';
  readonly data: {
    readonly triggerId: string;
    readonly changes: {
      readonly name?: string;
      readonly condition?: TriggerConditionInput;
      readonly action?: TriggerAction;
      readonly cooldown?: string | null;
    };
  };
};

export type EnableTrigger = { readonly type: 'EnableTrigger'; readonly data: { readonly triggerId: string } };
export type DisableTrigger = { readonly type: 'DisableTrigger'; readonly data: { readonly triggerId: string } };
export type DeleteTrigger = { readonly type: 'DeleteTrigger'; readonly data: { readonly triggerId: string } };

/** A domain event that took part in a firing. */
export interface TriggerMatchedEvent {
  readonly eventId: string;
  /** Global position in the event store. */
  readonly position: number;
  readonly type: string;
  readonly subject: string | null;
  /** Its event time (ISO-8601): the CloudEvent `time`, else when it was recorded. */
  readonly time?: string;
}

/**
 * Issued by the trigger evaluator when the condition holds. `occurrenceKey` names the occurrence
 * (for example the subject and the first matched event id): a trigger fires at most once per key.
 */
export type FireTrigger = {
  readonly type: 'FireTrigger';
  readonly data: {
    readonly triggerId: string;
    /** Defaults to `context.newId()`. */
    readonly firingId?: string;
    readonly occurrenceKey: string;
    readonly matchedEvents: readonly TriggerMatchedEvent[];
    /** When the condition held (ISO-8601); defaults to `context.now`. */
    readonly firedAt?: string;
    /** The window's subject; null for global windows and schedules. */
    readonly subject?: string | null;
    /** Decided by a deadline the evaluator reached late (the engine was down or behind). */
    readonly late?: boolean;
  };
};

export type TriggerCommand = DefineTrigger | ChangeTrigger | EnableTrigger | DisableTrigger | DeleteTrigger | FireTrigger;
