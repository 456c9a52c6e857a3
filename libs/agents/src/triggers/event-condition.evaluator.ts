import type { EventTriggerCondition } from '@meridian/domain';
import { matchedEvent, type ConditionEvaluator, NO_LATE_EVENTS } from './condition-evaluator';
import {
  compileEventMatch,
  eventTimeOf,
  isLate,
  lateEvent,
  newest,
  resolveWindowOptions,
  unchanged,
  type WindowEvaluationOptions,
} from './window-evaluation';

/**
 * `event`: every matching event fires, once, keyed `event:<eventId>`; the firing's subject is the
 * event's. There is no window, but the lateness rule is the same as for the other kinds, so the
 * state only remembers the newest event time seen.
 */
export interface EventConditionState {
  readonly kind: 'event';
  /** Newest event time (epoch ms) among matched events; null before the first. */
  readonly newestTime: number | null;
}

export function eventConditionEvaluator(condition: EventTriggerCondition, options: WindowEvaluationOptions): ConditionEvaluator<EventConditionState> {
  const { allowedLatenessMs, onMatchError } = resolveWindowOptions(options);
  const matches = compileEventMatch(condition.match, 'condition.match', onMatchError);
  return {
    initialState: () => ({ kind: 'event', newestTime: null }),
    onEvent(state, event) {
      if (!matches(event)) return unchanged(state);
      const time = eventTimeOf(event);
      if (isLate(state.newestTime, time, allowedLatenessMs)) return lateEvent(state, event);
      const newestTime = newest(state.newestTime, time);
      return {
        state: newestTime === state.newestTime ? state : { kind: 'event', newestTime },
        firings: [{ occurrenceKey: `event:${event.eventId}`, subject: event.view.subject, matched: [matchedEvent(event)], at: time, late: false }],
        late: NO_LATE_EVENTS,
      };
    },
    onTime: (state) => unchanged(state),
    nextDeadline: () => null,
  };
}
