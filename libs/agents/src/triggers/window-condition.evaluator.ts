import type {
  AbsenceTriggerCondition,
  EventTriggerCondition,
  SequenceTriggerCondition,
  ThresholdTriggerCondition,
  TriggerCondition,
} from '@meridian/domain';
import { absenceConditionEvaluator, type AbsenceConditionState } from './absence-condition.evaluator';
import { refusingOtherKinds, type ConditionEvaluator } from './condition-evaluator';
import { eventConditionEvaluator, type EventConditionState } from './event-condition.evaluator';
import { sequenceConditionEvaluator, type SequenceConditionState } from './sequence-condition.evaluator';
import { thresholdConditionEvaluator, type ThresholdConditionState } from './threshold-condition.evaluator';
import type { WindowEvaluationOptions } from './window-evaluation';

/** The condition kinds driven by events (and, for `absence`, by deadlines they open). */
export type WindowTriggerCondition = EventTriggerCondition | ThresholdTriggerCondition | SequenceTriggerCondition | AbsenceTriggerCondition;

export type WindowConditionState = EventConditionState | ThresholdConditionState | SequenceConditionState | AbsenceConditionState;

export const WINDOW_CONDITION_KINDS = ['event', 'threshold', 'sequence', 'absence'] as const satisfies readonly WindowTriggerCondition['kind'][];

export function isWindowCondition(condition: TriggerCondition): condition is WindowTriggerCondition {
  return (WINDOW_CONDITION_KINDS as readonly string[]).includes(condition.kind);
}

/**
 * The type patterns (exact, or a prefix ending in `*`) a condition looks at. An event whose type
 * matches none of them leaves the condition's state as it is, so an engine holding many triggers
 * can index them by these and evaluate each event against the few that can use it.
 */
export function windowConditionTypes(condition: WindowTriggerCondition): readonly string[] {
  const matches =
    condition.kind === 'sequence' ? condition.steps : condition.kind === 'absence' ? [condition.first, condition.then] : [condition.match];
  return [...new Set(matches.map((match) => match.type))];
}

/**
 * The evaluator of an `event`, `threshold`, `sequence` or `absence` condition. Durations are
 * parsed here, so an invalid one throws a VALIDATION_FAILED domain error; a match whose type or
 * filter is unusable never matches and is reported through `options.onMatchError`.
 */
export function windowConditionEvaluator(condition: WindowTriggerCondition, options: WindowEvaluationOptions): ConditionEvaluator<WindowConditionState> {
  switch (condition.kind) {
    case 'event':
      return refusingOtherKinds<WindowConditionState, EventConditionState>('event', eventConditionEvaluator(condition, options));
    case 'threshold':
      return refusingOtherKinds<WindowConditionState, ThresholdConditionState>('threshold', thresholdConditionEvaluator(condition, options));
    case 'sequence':
      return refusingOtherKinds<WindowConditionState, SequenceConditionState>('sequence', sequenceConditionEvaluator(condition, options));
    case 'absence':
      return refusingOtherKinds<WindowConditionState, AbsenceConditionState>('absence', absenceConditionEvaluator(condition, options));
    default: {
      const other: { readonly kind: string } = condition;
      throw new TypeError(`"${other.kind}" is not an event-driven condition kind`);
    }
  }
}
