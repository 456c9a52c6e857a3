import { parseIsoDuration, type AbsenceTriggerCondition } from '@meridian/domain';
import { NO_FIRINGS, NO_LATE_EVENTS, type ConditionEvaluator, type ConditionFiring, type EvaluationResult } from './condition-evaluator';
import { emptyKeyedJsonMap, keyedGet, keyedSet, keyedUpdateAll, type KeyedJsonMap } from './keyed-json-map';
import {
  compileEventMatch,
  eventTimeOf,
  firingSubject,
  firstIndexAfter,
  firstIndexAtOrAfter,
  insertionIndex,
  isLate,
  lateEvent,
  newest,
  partitionPoint,
  resolveWindowOptions,
  sweepDue,
  unchanged,
  windowEntry,
  windowKeyOf,
  type WindowEntry,
  type WindowEvaluationOptions,
} from './window-evaluation';

/**
 * `absence`: a `first` not followed by a `then` within `within`, per subject or across all
 * subjects.
 *
 * - Each `first` opens its own window, deadline = its event time + `within`. Several `first`s for
 *   one key are several occurrences (each order placed must be shipped); a `then` closes every open
 *   window of its key that it follows: `first` time ≤ `then` time ≤ deadline, both ends inclusive,
 *   whatever order they arrived in. A `then` at the very same time as its `first` counts as
 *   following it (producers' clocks rarely agree to the millisecond).
 * - A window fires on `onTime(now)` once `now ≥ deadline + allowed lateness`, so a `then` arriving
 *   late within the allowed lateness still closes it. The firing is `at` the deadline, carries the
 *   `first` event, and is keyed `absence:<subject or "global">:<eventId of first>`. It is marked
 *   `late` when `now` is past deadline + allowed lateness by more than `lateToleranceMs` (the clock
 *   did not tick while the window closed, e.g. the process was down).
 * - A `then` that arrives after its window fired changes nothing. A `then` that arrives before a
 *   late (out-of-order) `first` it follows closes that window at once: `then` times are kept for as
 *   long as a `first` they could follow may still arrive (the allowed lateness).
 * - An event matching both `first` and `then` closes the windows before it and opens its own.
 */
export interface AbsenceConditionState {
  readonly kind: 'absence';
  /** Newest event time (epoch ms) among matched events; null before the first. */
  readonly newestTime: number | null;
  /** `newestTime` when every key was last swept for old `then` times. */
  readonly sweptAt: number | null;
  readonly windows: KeyedJsonMap<AbsenceWindows>;
  /**
   * Open windows by (deadline, position), ascending, in chunks of at most `2 × DEADLINE_CHUNK`
   * (adding one copies a chunk and the list of chunks, not every deadline). Closing a window leaves
   * its entry behind, but never first: the first is always an open window, so `nextDeadline` is
   * exact.
   */
  readonly deadlines: readonly (readonly AbsenceDeadline[])[];
}

export interface AbsenceWindows {
  /** The `first` events of open windows, in event-time order, which is also deadline order. */
  readonly open: readonly WindowEntry[];
  /** Times of `then` events a late `first` could still be followed by, ascending. */
  readonly thens: readonly number[];
}

export interface AbsenceDeadline {
  readonly deadline: number;
  readonly position: number;
  readonly key: string;
  readonly eventId: string;
}

const before = (a: AbsenceDeadline, b: AbsenceDeadline) => a.deadline < b.deadline || (a.deadline === b.deadline && a.position < b.position);

type Deadlines = readonly (readonly AbsenceDeadline[])[];

/** Deadlines per chunk (a chunk splits in two at twice this). */
const DEADLINE_CHUNK = 64;

/** The deadlines with `item` in its place. */
function withDeadline(deadlines: Deadlines, item: AbsenceDeadline): Deadlines {
  // The chunk it belongs to: the first whose last entry is not before it (else the last chunk).
  const found = partitionPoint(deadlines.length, (index) => before((deadlines[index] as readonly AbsenceDeadline[]).at(-1) as AbsenceDeadline, item));
  const target = Math.min(found, deadlines.length - 1);
  if (target < 0) return [[item]];
  const chunk = deadlines[target] as readonly AbsenceDeadline[];
  const at = partitionPoint(chunk.length, (index) => !before(item, chunk[index] as AbsenceDeadline));
  const grown = [...chunk.slice(0, at), item, ...chunk.slice(at)];
  const replacement = grown.length > 2 * DEADLINE_CHUNK ? [grown.slice(0, DEADLINE_CHUNK), grown.slice(DEADLINE_CHUNK)] : [grown];
  return [...deadlines.slice(0, target), ...replacement, ...deadlines.slice(target + 1)];
}

function firstDeadline(deadlines: Deadlines): AbsenceDeadline | undefined {
  return deadlines[0]?.[0];
}

/** The deadlines without the first `count` of the first chunk. */
function withoutFirst(deadlines: Deadlines, count: number): Deadlines {
  const chunk = deadlines[0] as readonly AbsenceDeadline[];
  return count >= chunk.length ? deadlines.slice(1) : [chunk.slice(count), ...deadlines.slice(1)];
}

/**
 * Whether a deadline is still an open window. Deadline order and each key's `open` order agree,
 * so an open window first in the deadlines is necessarily the first open window of its key.
 */
function isOpenHead(windows: KeyedJsonMap<AbsenceWindows>, item: AbsenceDeadline): boolean {
  return keyedGet(windows, item.key)?.open[0]?.event.eventId === item.eventId;
}

/** Drops closed windows from the front of the deadlines (copying only what changes). */
function withOpenTop(deadlines: Deadlines, windows: KeyedJsonMap<AbsenceWindows>): Deadlines {
  let current = deadlines;
  for (;;) {
    const chunk = current[0];
    if (chunk === undefined) return current;
    let closed = 0;
    while (closed < chunk.length && !isOpenHead(windows, chunk[closed] as AbsenceDeadline)) closed += 1;
    if (closed === 0) return current;
    current = withoutFirst(current, closed);
    if (closed < chunk.length) return current;
  }
}

/** Index of the first time at or after `time` in an ascending list. */
const firstTimeAtOrAfter = (times: readonly number[], time: number) => partitionPoint(times.length, (index) => (times[index] as number) < time);

function keptThens(thens: readonly number[], horizon: number): readonly number[] {
  const from = firstTimeAtOrAfter(thens, horizon);
  return from === 0 ? thens : thens.slice(from);
}

function stored(open: readonly WindowEntry[], thens: readonly number[]): AbsenceWindows | undefined {
  return open.length === 0 && thens.length === 0 ? undefined : { open, thens };
}

export function absenceConditionEvaluator(condition: AbsenceTriggerCondition, options: WindowEvaluationOptions): ConditionEvaluator<AbsenceConditionState> {
  const { allowedLatenessMs, lateToleranceMs, onMatchError } = resolveWindowOptions(options);
  const within = parseIsoDuration(condition.within, 'condition.within');
  const { per } = condition;
  const isFirst = compileEventMatch(condition.first, 'condition.first', onMatchError);
  const isThen = compileEventMatch(condition.then, 'condition.then', onMatchError);

  return {
    initialState: () => ({ kind: 'absence', newestTime: null, sweptAt: null, windows: emptyKeyedJsonMap(), deadlines: [] }),

    onEvent(state, event) {
      const first = isFirst(event);
      const then = isThen(event);
      if (!first && !then) return unchanged(state);
      const key = windowKeyOf(per, event);
      if (key === null) return unchanged(state);
      const time = eventTimeOf(event);
      if (isLate(state.newestTime, time, allowedLatenessMs)) return lateEvent(state, event);

      const newestTime = newest(state.newestTime, time);
      // A `first` still to come is at or after this; `then`s before it cannot follow it.
      const horizon = newestTime - allowedLatenessMs;
      const held = keyedGet(state.windows, key);
      let open = held?.open ?? [];
      let thens = held?.thens ?? [];
      let deadlines = state.deadlines;

      if (then) {
        // Windows it follows: first time in [time - within, time].
        const from = firstIndexAtOrAfter(open, time - within);
        const to = firstIndexAfter(open, time);
        if (to > from) open = [...open.slice(0, from), ...open.slice(to)];
      }
      if (first) {
        // Followed already by a `then` that arrived before it (out of order)?
        const next = thens[firstTimeAtOrAfter(thens, time)];
        if (next === undefined || next > time + within) {
          const entry = windowEntry(event);
          const index = insertionIndex(open, entry);
          open = [...open.slice(0, index), entry, ...open.slice(index)];
          deadlines = withDeadline(deadlines, { deadline: time + within, position: event.position, key, eventId: event.eventId });
        }
      }
      if (then) {
        const index = firstTimeAtOrAfter(thens, time);
        thens = [...thens.slice(0, index), time, ...thens.slice(index)];
      }
      thens = keptThens(thens, horizon);

      let windows = keyedSet(state.windows, key, stored(open, thens));
      let sweptAt = state.sweptAt;
      if (sweepDue(newestTime, sweptAt, within + allowedLatenessMs)) {
        windows = keyedUpdateAll(windows, (item) => {
          const kept = keptThens(item.thens, horizon);
          return kept === item.thens ? item : stored(item.open, kept);
        });
        sweptAt = newestTime;
      }
      deadlines = withOpenTop(deadlines, windows);
      return { state: { kind: 'absence', newestTime, sweptAt, windows, deadlines }, firings: NO_FIRINGS, late: NO_LATE_EVENTS };
    },

    onTime(state, now): EvaluationResult<AbsenceConditionState> {
      const top = firstDeadline(state.deadlines);
      if (top === undefined || top.deadline + allowedLatenessMs > now) return unchanged(state);
      let deadlines = state.deadlines;
      let windows = state.windows;
      const firings: ConditionFiring[] = [];
      for (let due = firstDeadline(deadlines); due !== undefined && due.deadline + allowedLatenessMs <= now; due = firstDeadline(deadlines)) {
        deadlines = withoutFirst(deadlines, 1);
        const held = keyedGet(windows, due.key);
        const window = held?.open[0];
        if (held === undefined || window === undefined || window.event.eventId !== due.eventId) continue;
        windows = keyedSet(windows, due.key, stored(held.open.slice(1), held.thens));
        firings.push({
          occurrenceKey: `absence:${due.key}:${due.eventId}`,
          subject: firingSubject(per, due.key),
          matched: [window.event],
          at: due.deadline,
          late: now - (due.deadline + allowedLatenessMs) > lateToleranceMs,
        });
      }
      return { state: { ...state, windows, deadlines: withOpenTop(deadlines, windows) }, firings, late: NO_LATE_EVENTS };
    },

    nextDeadline(state) {
      const top = firstDeadline(state.deadlines);
      return top === undefined ? null : top.deadline + allowedLatenessMs;
    },
  };
}
