import type { ScheduleTriggerCondition, StateTriggerCondition } from '@meridian/domain';
import { refusingOtherKinds, type ConditionEvaluator } from './condition-evaluator';
import { scheduleConditionEvaluator, type ScheduleConditionState } from './schedule-condition.evaluator';
import { stateConditionEvaluator, type StateConditionState } from './state-condition.evaluator';
import type { WindowEvaluationOptions } from './window-evaluation';

/**
 * The evaluators of the conditions that do not follow a match of events: `schedule` (the clock) and
 * `state` (an entity's folded state). Each state is tagged with its kind, so a stored state handed
 * to an evaluator of the other kind is refused loudly (a TypeError) rather than misread.
 *
 * A schedule that cannot be computed (not a cron expression, an unknown time zone, a date that never
 * comes) throws here: those are refused where the request arrives, so this is a programming error. A
 * predicate that cannot be compiled is reported to `onMatchError` and never holds, as the other
 * kinds treat their filters.
 */

export type TimeTriggerCondition = ScheduleTriggerCondition | StateTriggerCondition;
export type TimeConditionState = ScheduleConditionState | StateConditionState;

/** The options of the other condition kinds, plus when the condition starts. */
export interface TimeConditionOptions extends WindowEvaluationOptions {
  /** Epoch ms the condition counts from (the trigger's, or its condition's, creation); schedules start after it. */
  readonly since: number;
}

export function timeConditionEvaluator(condition: ScheduleTriggerCondition, options: TimeConditionOptions): ConditionEvaluator<ScheduleConditionState>;
export function timeConditionEvaluator(condition: StateTriggerCondition, options: TimeConditionOptions): ConditionEvaluator<StateConditionState>;
export function timeConditionEvaluator(condition: TimeTriggerCondition, options: TimeConditionOptions): ConditionEvaluator<TimeConditionState>;
export function timeConditionEvaluator(condition: TimeTriggerCondition, options: TimeConditionOptions): ConditionEvaluator<TimeConditionState> {
  switch (condition.kind) {
    case 'schedule':
      return refusingOtherKinds<TimeConditionState, ScheduleConditionState>('schedule', scheduleConditionEvaluator(condition, options));
    case 'state':
      return refusingOtherKinds<TimeConditionState, StateConditionState>('state', stateConditionEvaluator(condition, options));
    default: {
      const unknown: never = condition;
      throw new Error(`not a schedule or state condition: ${JSON.stringify(unknown)}`);
    }
  }
}
