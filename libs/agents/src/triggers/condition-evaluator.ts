import type { EntityState } from '@meridian/domain';
import type { CloudEventView } from '../routing/cloud-event-view';

/**
 * The pure core of the proactive engine: one evaluator per condition kind, a deterministic state
 * machine over events and time. The durable process manager around it (later) persists the state
 * with its checkpoint and its timers, feeds events in store order, advances time with an injected
 * clock, and records each firing exactly once per `occurrenceKey`.
 *
 * Rules every evaluator keeps:
 * - State is plain JSON (no Map, Set, Date, class): it is stored and read back, and a restart with
 *   the stored state continues exactly as if nothing had happened.
 * - Time is the event's time (`eventTime`: the CloudEvent `time` when present, else when it was
 *   recorded), so replaying the same events gives the same firings. An event older than the
 *   watermark (the newest event time seen minus `allowedLatenessMs`) is late: it is not evaluated,
 *   it is counted in `lateEvents` and listed in `late`, never silently dropped.
 * - Windows and deadlines close on `onTime(now)` once `now >= deadline + allowedLatenessMs`, so a late
 *   event within the allowed lateness still counts. A firing decided by a deadline that `now` is
 *   past (deadline + allowed lateness) by more than a tolerance (evaluators take `lateToleranceMs`,
 *   default 1 s) is marked `late: true`: the process was down, or time was not advanced for a while.
 * - The engine must not advance time (`onTime`) past events it has not fed yet (a replay feeds
 *   them first), and must store each evaluator's state with its checkpoint: an event fed twice is
 *   counted twice.
 * - Every firing has an `occurrenceKey` that identifies it: evaluating the same input twice yields
 *   the same key, so exactly-once is the recorder's job, not the evaluator's.
 */

/** An event as conditions see it. */
export interface TriggerEvent {
  /** The stored event id. */
  readonly eventId: string;
  readonly position: number;
  /** The CloudEvent view (type, subject, source, id, time, data, extensions). */
  readonly view: CloudEventView;
  /** Epoch ms: the CloudEvent `time` when present, else when the event was recorded. */
  readonly eventTime: number;
  /** For `state` conditions: the subject's folded state after this event. */
  readonly entity?: EntityState | null;
}

export interface MatchedEvent {
  readonly eventId: string;
  readonly position: number;
  readonly type: string;
  readonly subject: string | null;
  /** ISO-8601 event time. */
  readonly time: string;
}

export interface ConditionFiring {
  /** Identity of this occurrence: the same input always yields the same key. */
  readonly occurrenceKey: string;
  /** The window's key: the subject for `per: subject`, null for `global` and schedules. */
  readonly subject: string | null;
  /** The events that made it fire, oldest first (empty for schedules and absences' missing step). */
  readonly matched: readonly MatchedEvent[];
  /** Epoch ms of what completed it: the completing event's time, or the deadline that passed. */
  readonly at: number;
  /** Decided by a deadline the clock was already past by more than the allowed lateness. */
  readonly late: boolean;
}

/** Results share these: an evaluation runs per event per trigger, and most fire nothing. */
export const NO_FIRINGS: readonly ConditionFiring[] = Object.freeze([]);
export const NO_LATE_EVENTS: readonly MatchedEvent[] = Object.freeze([]);

export interface EvaluationResult<S> {
  readonly state: S;
  readonly firings: readonly ConditionFiring[];
  /** Events too late to evaluate (older than the watermark). */
  readonly late: readonly MatchedEvent[];
}

export interface EvaluationOptions {
  /** How late (event time behind the newest seen) an event may be and still count. Default 0. */
  readonly allowedLatenessMs: number;
}

export interface ConditionEvaluator<S> {
  initialState(): S;
  /** Feeds one event, in store order. Events that do not match the condition leave it unchanged. */
  onEvent(state: S, event: TriggerEvent): EvaluationResult<S>;
  /** Advances time to `now` (epoch ms): closes windows and fires what is due. */
  onTime(state: S, now: number): EvaluationResult<S>;
  /** The earliest `now` at which `onTime` would change something, or null. */
  nextDeadline(state: S): number | null;
}

/** An event is offered to every trigger that may match it: its matched form is made once. */
const matchedForms = new WeakMap<TriggerEvent, MatchedEvent>();

export function matchedEvent(event: TriggerEvent): MatchedEvent {
  let matched = matchedForms.get(event);
  if (matched === undefined) {
    matched = {
      eventId: event.eventId,
      position: event.position,
      type: event.view.type,
      subject: event.view.subject,
      time: new Date(event.eventTime).toISOString(),
    };
    matchedForms.set(event, matched);
  }
  return matched;
}

/**
 * Wraps a kind's evaluator so that evaluators of several kinds can be held as one type. Each state
 * names its kind, and a state of another kind is refused: after a condition changes kind its state
 * must start afresh, and running one kind's evaluator over another's state would quietly lose
 * windows.
 */
export function refusingOtherKinds<All extends { readonly kind: string }, S extends All>(kind: S['kind'], evaluator: ConditionEvaluator<S>): ConditionEvaluator<All> {
  const own = (state: All): S => {
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
