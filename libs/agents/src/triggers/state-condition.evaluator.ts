import type { StateTriggerCondition } from '@meridian/domain';
import { compileJsonLogicCondition } from '../routing/json-logic-condition';
import { matchedEvent, type ConditionEvaluator, type ConditionFiring, type EvaluationResult, type TriggerEvent, NO_FIRINGS, NO_LATE_EVENTS } from './condition-evaluator';
import { emptyKeyedJsonMap, keyedGet, keyedSet, type KeyedJsonMap } from './keyed-json-map';
import type { TriggerMatchError, TriggerMatchErrorHandler } from './window-evaluation';

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
 *   is bounded by them, not by every subject ever seen (in a keyed map, so a change copies little).
 * - A predicate that throws or returns something other than a boolean does not hold (as every JSON
 *   Logic condition in Meridian: wrap a truthy test in `!!`); a subject for which it held stops
 *   holding. That is not silent: the state counts these errors and keeps the latest one, for the
 *   trigger to show, and `onMatchError` (the handler the other kinds report failing filters to) is
 *   told about each, with the path `condition.predicate`. A predicate that cannot be compiled is
 *   reported there once, as the other kinds do with their filters, and never holds.
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
  readonly holding: KeyedJsonMap<string>;
  /** How many evaluations threw or did not return a boolean. */
  readonly predicateErrors: number;
  readonly lastPredicateError: StatePredicateError | null;
}

export function stateOccurrenceKey(subject: string, eventId: string): string {
  return `state:${subject}:${eventId}`;
}

const WORD_CHARACTER = /[\p{L}\p{N}_]/u;

/** Whether `subject` is of `subjectType` (see above); no subject type matches every subject. */
/** Whether a character (one UTF-16 unit) is a letter, a digit or `_`; ASCII without a regex. */
function isWordCharacter(character: string): boolean {
  const code = character.charCodeAt(0);
  if (code < 128) return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
  return WORD_CHARACTER.test(character);
}

export function subjectIsOfType(subject: string, subjectType: string | undefined): boolean {
  if (subjectType === undefined || subjectType === '') return true;
  if (!subject.startsWith(subjectType)) return false;
  if (subject.length === subjectType.length) return true;
  return !isWordCharacter(subjectType.charAt(subjectType.length - 1)) || !isWordCharacter(subject.charAt(subjectType.length));
}

const PREDICATE_PATH = 'condition.predicate';

function report(onError: TriggerMatchErrorHandler | undefined, error: TriggerMatchError): void {
  try {
    onError?.(error);
  } catch {
    // A failing handler must not turn a bad predicate into a failed evaluation.
  }
}

export interface StateEvaluatorOptions {
  /** Told about a predicate that cannot be compiled, and each evaluation that threw or did not return a boolean; a failing handler is ignored. */
  readonly onMatchError?: TriggerMatchErrorHandler;
}

export function stateConditionEvaluator(condition: StateTriggerCondition, options: StateEvaluatorOptions = {}): ConditionEvaluator<StateConditionState> {
  const compiled = compileJsonLogicCondition(condition.predicate, PREDICATE_PATH);
  if (!compiled.ok) {
    // As the other kinds do with a filter that cannot be used: reported once, and it never holds.
    const message = compiled.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    report(options.onMatchError, { path: PREDICATE_PATH, phase: 'compile', reason: 'invalid-filter', message });
  }
  const predicate = compiled.ok ? compiled.condition : null;
  const unchanged = (state: StateConditionState): EvaluationResult<StateConditionState> => ({ state, firings: NO_FIRINGS, late: NO_LATE_EVENTS });

  return {
    initialState: () => ({ kind: 'state', holding: emptyKeyedJsonMap(), predicateErrors: 0, lastPredicateError: null }),

    onEvent(state, event: TriggerEvent): EvaluationResult<StateConditionState> {
      const subject = event.view.subject;
      const entity = event.entity;
      if (predicate === null || subject === null || entity === undefined || entity === null) return unchanged(state);
      if (!subjectIsOfType(subject, condition.subjectType)) return unchanged(state);

      const result = predicate.evaluate(entity.state);
      const holds = result.ok && result.value;
      let counted = state;
      if (!result.ok) {
        const error: StatePredicateError = { subject, eventId: event.eventId, reason: result.reason, message: result.message };
        report(options.onMatchError, {
          path: PREDICATE_PATH,
          phase: 'evaluate',
          reason: result.reason,
          message: result.message,
          event: { eventId: event.eventId, type: event.view.type },
        });
        counted = { ...state, predicateErrors: state.predicateErrors + 1, lastPredicateError: error };
      }
      if (holds === (keyedGet(state.holding, subject) !== undefined)) return unchanged(counted);
      const next: StateConditionState = { ...counted, holding: keyedSet(state.holding, subject, holds ? event.eventId : undefined) };
      if (!holds) return { state: next, firings: NO_FIRINGS, late: NO_LATE_EVENTS };
      const fired: ConditionFiring = {
        occurrenceKey: stateOccurrenceKey(subject, event.eventId),
        subject,
        matched: [matchedEvent(event)],
        at: event.eventTime,
        late: false,
      };
      return { state: next, firings: [fired], late: NO_LATE_EVENTS };
    },

    // The predicate reads state, not the clock.
    onTime: (state) => unchanged(state),
    nextDeadline: () => null,
  };
}
