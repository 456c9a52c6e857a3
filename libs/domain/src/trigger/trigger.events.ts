import type { TriggerMatchedEvent } from './trigger.commands';
import type { TriggerAction, TriggerDefinition } from './trigger.definition';

/** Stream `<tenant>/trigger-<triggerId>`. */
export const TRIGGER_STREAM_CATEGORY = 'trigger' as const;

/** `version` is the definition version in force after the event: 1 when defined, +1 per change. */
export type TriggerDefined = {
  readonly type: 'trigger.defined';
  readonly data: {
    readonly triggerId: string;
    readonly agentId: string;
    readonly definition: TriggerDefinition;
    readonly enabled: boolean;
    readonly version: number;
  };
};

export type TriggerChanged = {
  readonly type: 'trigger.changed';
  readonly data: {
    readonly triggerId: string;
    readonly agentId: string;
    /** The whole new definition, so readers never have to merge changes. */
    readonly definition: TriggerDefinition;
    readonly version: number;
    readonly changed: readonly (keyof TriggerDefinition)[];
  };
};

export type TriggerEnabled = { readonly type: 'trigger.enabled'; readonly data: { readonly triggerId: string; readonly version: number } };
export type TriggerDisabled = { readonly type: 'trigger.disabled'; readonly data: { readonly triggerId: string; readonly version: number } };
export type TriggerDeleted = { readonly type: 'trigger.deleted'; readonly data: { readonly triggerId: string; readonly version: number } };

/** Appended by the trigger evaluator: the action (unrendered templates) is carried out from this event. */
export type TriggerFired = {
  readonly type: 'trigger.fired';
  readonly data: {
    readonly triggerId: string;
    readonly agentId: string;
    readonly version: number;
    readonly firingId: string;
    readonly occurrenceKey: string;
    readonly matchedEvents: readonly TriggerMatchedEvent[];
    readonly firedAt: string;
    readonly action: TriggerAction;
    /** The window's subject (absent on firings recorded before it was kept). */
    readonly subject?: string | null;
    /** True when a deadline decided it late (the engine was down or behind when the window closed). */
    readonly late?: boolean;
  };
};

export type TriggerEvent = TriggerDefined | TriggerChanged | TriggerEnabled | TriggerDisabled | TriggerDeleted | TriggerFired;
export type TriggerEventType = TriggerEvent['type'];

export const TRIGGER_EVENT_TYPES = [
  'trigger.defined',
  'trigger.changed',
  'trigger.enabled',
  'trigger.disabled',
  'trigger.deleted',
  'trigger.fired',
] as const satisfies readonly TriggerEventType[];
