/**
 * A trigger: a proactive rule owned by an agent — when its condition holds, its action runs, at
 * most once per occurrence and not again within its cooldown. Durations (`within`, `cooldown`) are
 * ISO-8601 (`PT2H`); string values of actions are templates rendered by the runtime.
 */

/** A JSON Logic rule (https://jsonlogic.com), evaluated by the runtime. */
export type TriggerJsonLogic = Readonly<Record<string, unknown>>;

/** `type` is an exact event type or a prefix ending in `*`; `filter` is JSON Logic over the event. */
export interface TriggerEventMatch {
  readonly type: string;
  readonly filter?: TriggerJsonLogic;
}

/** Whether windows are counted per subject (entity) or across all subjects. */
export const TRIGGER_SCOPES = ['subject', 'global'] as const;
export type TriggerScope = (typeof TRIGGER_SCOPES)[number];

export interface EventTriggerCondition {
  readonly kind: 'event';
  readonly match: TriggerEventMatch;
}

/** `count` matching events within a sliding window of `within`. */
export interface ThresholdTriggerCondition {
  readonly kind: 'threshold';
  readonly match: TriggerEventMatch;
  readonly count: number;
  readonly within: string;
  readonly per: TriggerScope;
}

/** `steps` in this order, all within `within` of the first. */
export interface SequenceTriggerCondition {
  readonly kind: 'sequence';
  readonly steps: readonly TriggerEventMatch[];
  readonly within: string;
  readonly per: TriggerScope;
}

/** `first` not followed by `then` within `within`. */
export interface AbsenceTriggerCondition {
  readonly kind: 'absence';
  readonly first: TriggerEventMatch;
  readonly then: TriggerEventMatch;
  readonly within: string;
  readonly per: TriggerScope;
}

/** A cron expression (its syntax is checked where it arrives, not here) in an IANA time zone, UTC by default. */
export interface ScheduleTriggerCondition {
  readonly kind: 'schedule';
  readonly cron: string;
  readonly timezone?: string;
}

/** A JSON Logic predicate over an entity's folded state, optionally only for subjects of one type. */
export interface StateTriggerCondition {
  readonly kind: 'state';
  readonly subjectType?: string;
  readonly predicate: TriggerJsonLogic;
}

export type TriggerCondition =
  | EventTriggerCondition
  | ThresholdTriggerCondition
  | SequenceTriggerCondition
  | AbsenceTriggerCondition
  | ScheduleTriggerCondition
  | StateTriggerCondition;

export type TriggerConditionKind = TriggerCondition['kind'];
export const TRIGGER_CONDITION_KINDS = ['event', 'threshold', 'sequence', 'absence', 'schedule', 'state'] as const satisfies readonly TriggerConditionKind[];

/** As clients send it: `per` may be left out and means `subject`. */
export type TriggerConditionInput = TriggerCondition extends infer C
  ? C extends { readonly per: TriggerScope }
    ? Omit<C, 'per'> & { readonly per?: TriggerScope }
    : C
  : never;

/** Wakes the owning agent with a task. */
export interface WakeAgentTriggerAction {
  readonly kind: 'wake-agent';
  readonly task: string;
}

export interface SendMessageTriggerAction {
  readonly kind: 'send-message';
  /** Recipient agent id. */
  readonly to: string;
  readonly content: string;
}

export interface EmitEventTriggerAction {
  readonly kind: 'emit-event';
  readonly eventType: string;
  readonly subject?: string;
  readonly data?: unknown;
}

export type TriggerAction = WakeAgentTriggerAction | SendMessageTriggerAction | EmitEventTriggerAction;
export type TriggerActionKind = TriggerAction['kind'];
export const TRIGGER_ACTION_KINDS = ['wake-agent', 'send-message', 'emit-event'] as const satisfies readonly TriggerActionKind[];

/** What a trigger's versions are made of (the owning agent is fixed for its life). */
export interface TriggerDefinition {
  /** 1–100 characters. */
  readonly name: string;
  readonly condition: TriggerCondition;
  readonly action: TriggerAction;
  /** ISO-8601; absent means no cooldown. */
  readonly cooldown?: string;
}

export const MAX_TRIGGER_NAME_LENGTH = 100;
