import type { StateTriggerCondition } from '@meridian/domain';
import { compileJsonLogicCondition } from '../routing/json-logic-condition';
import { matchedEvent, type ConditionEvaluator, type ConditionFiring, type EvaluationResult, type TriggerEvent } from './condition-evaluator';

/**
 * `state` conditions: a JSON Logic predicate over an entity's folded state, fired when it becomes
 * true — not on every event while it stays true.
 *
 * - The predicate reads the entity's folded state itself (`event.entity.state`, the fields its
 *   events carried, latest value of each), so "inventory level below 10" is
 *   `{ "<": [{ "var": "level" }, 10] }` with `subjectType: "inventory"`: the subject type says which
 *   entities, the predicate reads their fields, as the fields appear in the events' data.
 * - `subjectType` selects subjects by their leading name: `inventory` matches `inventory`,
 *   `inventory-42`, `inventory:42`, `inventory/42` or `inventory.42` — the subject starts with it and
 *   the next character, if any, is not a letter, a digit or `_` — but not `inventoryItem-1`. A
 *   subject type that itself ends with a separator (`inventory/`) is a plain prefix. Events without
 *   a subject, or delivered without the folded entity, are not evaluated.
 * - Edge triggered, per subject: it fires on an event after which the predicate holds when it did not
 *   hold (or had never been evaluated) before that event; it fires again only after an event after
 *   which it did not hold. The state keeps only the subjects for which the predicate holds now, so it
 *   is bounded by them, not by every subject ever seen.
 * - A predicate that throws or returns something other than a boolean does not hold (as every JSON
 *   Logic condition in Meridian: wrap a truthy test in `!!`). That is not silent: the state counts
 *   these errors and keeps the latest one, for the trigger to report.
 * - Allowed lateness does not apply: the folded state is folded in store order whatever the events'
 *   times (an event behind the watermark has already changed the entity), so every event is evaluated
 *   in store order, and replaying the store gives the same firings. `late` is always empty.
 *
 * The occurrence key is `state:<subject>:<id of the event that made it true>`.
 */

export interface StatePredicateError {
  readonly subject: string;
  readonly eventId: string;
  readonly reason: 'threw' | 'non-boolean';
  readonly message: string;
}

export interface StateConditionState {
  readonly kind: 'state';
  /** Subjects for which the predicate holds, each with the id of the event that made it true. */
  readonly holding: Readonly<Record<string, string>>;
  /** How many evaluations threw or did not return a boolean. */
  readonly predicateErrors: number;
  readonly lastPredicateError: StatePredicateError | null;
}

export function stateOccurrenceKey(subject: string, eventId: string): string {
  return `state:${subject}:${eventId}`;
}

const WORD_CHARACTER = /[\p{L}\p{N}_]/u;

/** Whether `subject` is of `subjectType` (see above); no subject type matches every subject. */
export function subjectIsOfType(subject: string, subjectType: string | undefined): boolean {
  if (subjectType === undefined || subjectType === '') return true;
  if (!subject.startsWith(subjectType)) return false;
  if (subject.length === subjectType.length) return true;
  const lastOfType = subjectType.slice(-1);
  const nextCharacter = subject.charAt(subjectType.length);
  return !WORD_CHARACTER.test(lastOfType) || !WORD_CHARACTER.test(nextCharacter);
}

/** Subjects are data: `__proto__` or `constructor` are keys of the record, never its prototype. */
function withHolding(holding: Readonly<Record<string, string>>, subject: string, eventId: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(holding)) {
    if (key !== subject) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (eventId !== null) Object.defineProperty(out, subject, { value: eventId, enumerable: true, writable: true, configurable: true });
  return out;
}

export function stateConditionEvaluator(condition: StateTriggerCondition): ConditionEvaluator<StateConditionState> {
  const compiled = compileJsonLogicCondition(condition.predicate);
  if (!compiled.ok) {
    throw new Error(`invalid state predicate: ${compiled.issues.map((issue) => `${issue.path === '' ? 'predicate' : issue.path}: ${issue.message}`).join('; ')}`);
  }
  const predicate = compiled.condition;
  const unchanged = (state: StateConditionState): EvaluationResult<StateConditionState> => ({ state, firings: [], late: [] });

  return {
    initialState: () => ({ kind: 'state', holding: {}, predicateErrors: 0, lastPredicateError: null }),

    onEvent(state, event: TriggerEvent): EvaluationResult<StateConditionState> {
      const subject = event.view.subject;
      const entity = event.entity;
      if (subject === null || entity === undefined || entity === null || !subjectIsOfType(subject, condition.subjectType)) return unchanged(state);

      const result = predicate.evaluate(entity.state);
      const holds = result.ok && result.value;
      const counted: StateConditionState = result.ok
        ? state
        : {
            ...state,
            predicateErrors: state.predicateErrors + 1,
            lastPredicateError: { subject, eventId: event.eventId, reason: result.reason, message: result.message },
          };
      if (holds === Object.hasOwn(state.holding, subject)) return unchanged(counted);
      const next: StateConditionState = { ...counted, holding: withHolding(state.holding, subject, holds ? event.eventId : null) };
      if (!holds) return { state: next, firings: [], late: [] };
      const fired: ConditionFiring = {
        occurrenceKey: stateOccurrenceKey(subject, event.eventId),
        subject,
        matched: [matchedEvent(event)],
        at: event.eventTime,
        late: false,
      };
      return { state: next, firings: [fired], late: [] };
    },

    // The predicate reads state, not the clock.
    onTime: (state) => unchanged(state),
    nextDeadline: () => null,
  };
}
