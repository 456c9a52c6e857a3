import type { OccurrenceKeySet } from './occurrence-key-set';
import type { TriggerDefinition } from './trigger.definition';

export interface DefinedTriggerState {
  readonly id: string;
  readonly agentId: string;
  readonly definition: TriggerDefinition;
  /** Cooldown in milliseconds, null when none. */
  readonly cooldownMs: number | null;
  readonly enabled: boolean;
  readonly deleted: boolean;
  readonly version: number;
  readonly firingCount: number;
  /** The latest `firedAt` of any firing, null before the first. */
  readonly lastFiredAt: string | null;
  /** Every occurrence key fired for, ever (see occurrence-key-set.ts for why not a window). */
  readonly firedKeys: OccurrenceKeySet;
}

/** Null until the trigger is defined. */
export type TriggerState = DefinedTriggerState | null;

export const initialTriggerState = (): TriggerState => null;
