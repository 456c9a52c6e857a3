import type {
  AbsenceTriggerCondition,
  EventTriggerCondition,
  SequenceTriggerCondition,
  ThresholdTriggerCondition,
  TriggerCondition,
} from '@meridian/domain';
import { absenceConditionEvaluator, type AbsenceConditionState } from './absence-condition.evaluator';
import type { ConditionEvaluator } from './condition-evaluator';
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
 * Wraps a kind's evaluator so that it can be held as one type. Each state names its kind, and a
 * state of another kind is refused: after a condition changes kind its state must start afresh,
 * and running one kind's evaluator over another's state would quietly lose windows.
 */
function forKind<S extends WindowConditionState>(kind: S['kind'], evaluator: ConditionEvaluator<S>): ConditionEvaluator<WindowConditionState> {
  const own = (state: WindowConditionState): S => {
    if (state.kind !== kind) throw new TypeError(`a ${kind} condition cannot continue from the state of a ${state.kind} condition`);
    return state as S;
  };
  return {
    initialState: () => evaluator.initialState(),
    onEvent: (state, event) => evaluator.onEvent(own(state), event),
    onTime: (state, now) => evaluator.onTime(own(state), now),
    nextDeadline: (state) => evaluator.nextDeadline(own(state)),
  };
}

/**
 * The evaluator of an `event`, `threshold`, `sequence` or `absence` condition. Durations are
 * parsed here, so an invalid one throws a VALIDATION_FAILED domain error; a match whose type or
 * filter is unusable never matches and is reported through `options.onMatchError`.
 */
export function windowConditionEvaluator(condition: WindowTriggerCondition, options: WindowEvaluationOptions): ConditionEvaluator<WindowConditionState> {
  switch (condition.kind) {
    case 'event':
      return forKind('event', eventConditionEvaluator(condition, options));
    case 'threshold':
      return forKind('threshold', thresholdConditionEvaluator(condition, options));
    case 'sequence':
      return forKind('sequence', sequenceConditionEvaluator(condition, options));
    case 'absence':
      return forKind('absence', absenceConditionEvaluator(condition, options));
    default: {
      const other: { readonly kind: string } = condition;
      throw new TypeError(`"${other.kind}" is not an event-driven condition kind`);
    }
  }
}
