import { parseIsoDuration, type SequenceTriggerCondition } from '@meridian/domain';
import { NO_LATE_EVENTS, type ConditionEvaluator, type ConditionFiring } from './condition-evaluator';
import { emptyKeyedJsonMap, keyedGet, keyedSet, keyedUpdateAll, type KeyedJsonMap } from './keyed-json-map';
import {
  compileEventMatch,
  eventTimeOf,
  firingSubject,
  firstIndexAtOrAfter,
  insertionIndex,
  isLate,
  lateEvent,
  newest,
  resolveWindowOptions,
  sweepDue,
  unchanged,
  windowEntry,
  windowKeyOf,
  type EventPredicate,
  type WindowEntry,
  type WindowEvaluationOptions,
} from './window-evaluation';

/**
 * `sequence`: events matching `steps[0]`, `steps[1]`, … in this order (by event time; events at
 * the same time are in store order), the last no later than `within` after the first (inclusive),
 * per subject or across all subjects. Other events in between do not matter.
 *
 * Repeated steps — what a user expects from "A then B within W":
 * - Every A can start the sequence, so a B completes it if any A still open precedes it within W
 *   (A at 0, A at 5, B at 12 with W = 10 fires: the first A is too old, the second is not).
 * - A completed sequence fires once, for the earliest A it can be completed from (the occurrence
 *   key is `sequence:<subject or "global">:<eventId of that A>`), and consumes every step event up
 *   to the one that completed it: A, A, B fires once, not once per A, and a following B alone
 *   does not fire again. The next firing needs a new A after the completion.
 * - Intermediate steps are the earliest ones after the chosen A. An event that matches several
 *   steps fills one of them per sequence.
 *
 * Out-of-order events within the allowed lateness are placed by their event time, so a late A can
 * complete the sequence with a B that arrived before it; `at` is then the late A's time (the
 * arrival that completed it). State is bounded: step events older than the newest time seen minus
 * `within` minus the allowed lateness can be part of no sequence still to come and are dropped.
 */
export interface SequenceConditionState {
  readonly kind: 'sequence';
  /** Newest event time (epoch ms) among matched events; null before the first. */
  readonly newestTime: number | null;
  /** `newestTime` when every key was last swept for old events. */
  readonly sweptAt: number | null;
  readonly windows: KeyedJsonMap<SequenceWindow>;
}

export interface SequenceEntry extends WindowEntry {
  /** The steps this event matches, ascending. */
  readonly steps: readonly number[];
}

export interface SequenceWindow {
  /** Step events not yet consumed by a firing, in event-time order. */
  readonly entries: readonly SequenceEntry[];
  /**
   * Over `entries`: for each step k but the last, the latest first-step time of a partial match
   * through step k (null when there is none). The latest start leaves the most time for the rest,
   * so it alone decides whether a sequence can still be completed; an event appended in order only
   * has to be checked against it.
   */
  readonly starts: readonly (number | null)[];
}

type Progress = { readonly complete: true } | { readonly complete: false; readonly starts: readonly (number | null)[] };

/** Partial matches after one more event in event-time order. */
function advance(starts: readonly (number | null)[], entry: SequenceEntry, stepCount: number, within: number): Progress {
  const next = [...starts];
  // Highest step first, so that one event fills one step of a sequence, never two.
  for (let index = entry.steps.length - 1; index >= 0; index -= 1) {
    const step = entry.steps[index] as number;
    if (step === 0) {
      if (stepCount === 1) return { complete: true };
      next[0] = Math.max(next[0] ?? entry.at, entry.at);
      continue;
    }
    const start = next[step - 1];
    if (start === null || start === undefined || entry.at - start > within) continue;
    if (step === stepCount - 1) return { complete: true };
    next[step] = Math.max(next[step] ?? start, start);
  }
  return { complete: false, starts: next };
}

/** The partial matches over `entries`, or the index of the first entry that completes a sequence. */
function scan(entries: readonly SequenceEntry[], stepCount: number, within: number): { readonly completedAt: number } | { readonly starts: readonly (number | null)[] } {
  let starts: readonly (number | null)[] = new Array<null>(stepCount - 1).fill(null);
  for (let index = 0; index < entries.length; index += 1) {
    const progress = advance(starts, entries[index] as SequenceEntry, stepCount, within);
    if (progress.complete) return { completedAt: index };
    starts = progress.starts;
  }
  return { starts };
}

/**
 * The sequence that ends at `end`: from the earliest first step that still reaches it, with the
 * earliest event for each step in between (taking the earliest keeps the most room for the rest).
 */
function sequenceEndingAt(entries: readonly SequenceEntry[], end: number, stepCount: number, within: number): readonly SequenceEntry[] {
  const last = entries[end] as SequenceEntry;
  if (stepCount === 1) return [last];
  for (let first = 0; first < end; first += 1) {
    const start = entries[first] as SequenceEntry;
    if (!start.steps.includes(0) || last.at - start.at > within) continue;
    const chain = [start];
    let at = first;
    for (let step = 1; step < stepCount - 1 && at < end; step += 1) {
      at += 1;
      while (at < end && !(entries[at] as SequenceEntry).steps.includes(step)) at += 1;
      if (at < end) chain.push(entries[at] as SequenceEntry);
    }
    if (chain.length === stepCount - 1) return [...chain, last];
  }
  // Unreachable while `starts` is kept in step with `entries`: it said a sequence ends here.
  throw new Error('sequence condition: no sequence ends at the completing event');
}

function pruned(window: SequenceWindow, horizon: number): SequenceWindow | undefined {
  const from = firstIndexAtOrAfter(window.entries, horizon);
  if (from === 0) return window;
  // The partial matches can stay: a start older than the horizon is too old for any event to come.
  return from >= window.entries.length ? undefined : { entries: window.entries.slice(from), starts: window.starts };
}

export function sequenceConditionEvaluator(
  condition: SequenceTriggerCondition,
  options: WindowEvaluationOptions,
): ConditionEvaluator<SequenceConditionState> {
  const { allowedLatenessMs, onMatchError } = resolveWindowOptions(options);
  const within = parseIsoDuration(condition.within, 'condition.within');
  const { per } = condition;
  const stepCount = condition.steps.length;
  if (stepCount < 1) throw new RangeError('condition.steps must hold at least one step');
  const steps = condition.steps.map((step, index) => compileEventMatch(step, `condition.steps[${index}]`, onMatchError));
  const retention = within + allowedLatenessMs;
  const noPartials: readonly null[] = new Array<null>(stepCount - 1).fill(null);

  return {
    initialState: () => ({ kind: 'sequence', newestTime: null, sweptAt: null, windows: emptyKeyedJsonMap() }),

    onEvent(state, event) {
      let matched: number[] | null = null;
      for (let index = 0; index < steps.length; index += 1) if ((steps[index] as EventPredicate)(event)) (matched ??= []).push(index);
      if (matched === null) return unchanged(state);
      const key = windowKeyOf(per, event);
      if (key === null) return unchanged(state);
      const time = eventTimeOf(event);
      if (isLate(state.newestTime, time, allowedLatenessMs)) return lateEvent(state, event);

      const newestTime = newest(state.newestTime, time);
      const horizon = newestTime - retention;
      const held = pruned(keyedGet(state.windows, key) ?? { entries: [], starts: noPartials }, horizon) ?? { entries: [], starts: noPartials };
      const entry: SequenceEntry = { ...windowEntry(event), steps: matched };
      const index = insertionIndex(held.entries, entry);
      const entries = index === held.entries.length ? [...held.entries, entry] : [...held.entries.slice(0, index), entry, ...held.entries.slice(index)];

      // In order (the usual case) only the new event needs checking; out of order, the partial
      // matches are worked out again over the window's events.
      let completedAt: number | undefined;
      let starts: readonly (number | null)[] = held.starts;
      if (index === held.entries.length) {
        const progress = advance(held.starts, entry, stepCount, within);
        if (progress.complete) completedAt = index;
        else starts = progress.starts;
      } else {
        const result = scan(entries, stepCount, within);
        if ('completedAt' in result) completedAt = result.completedAt;
        else starts = result.starts;
      }

      const firings: ConditionFiring[] = [];
      let window: SequenceWindow | undefined = { entries, starts };
      if (completedAt !== undefined) {
        const sequence = sequenceEndingAt(entries, completedAt, stepCount, within);
        const first = sequence[0] as SequenceEntry;
        firings.push({
          occurrenceKey: `sequence:${key}:${first.event.eventId}`,
          subject: firingSubject(per, key),
          matched: sequence.map((item) => item.event),
          at: time,
          late: false,
        });
        const rest = entries.slice(completedAt + 1);
        const after = scan(rest, stepCount, within);
        // Every sequence among the events held includes the new one, which was just consumed.
        window = rest.length === 0 ? undefined : { entries: rest, starts: 'starts' in after ? after.starts : noPartials };
      }

      let windows = keyedSet(state.windows, key, window);
      let sweptAt = state.sweptAt;
      if (sweepDue(newestTime, sweptAt, retention)) {
        windows = keyedUpdateAll(windows, (item) => pruned(item, horizon));
        sweptAt = newestTime;
      }
      return { state: { kind: 'sequence', newestTime, sweptAt, windows }, firings, late: NO_LATE_EVENTS };
    },

    // A sequence is completed by an event, never by time passing.
    onTime: (state) => unchanged(state),
    nextDeadline: () => null,
  };
}
