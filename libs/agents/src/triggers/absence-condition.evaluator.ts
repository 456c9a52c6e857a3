import { parseIsoDuration, type AbsenceTriggerCondition } from '@meridian/domain';
import type { ConditionEvaluator, ConditionFiring, EvaluationResult } from './condition-evaluator';
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
   * Open windows by deadline, a binary min-heap on (deadline, position). Closing a window leaves
   * its entry behind, but never at the top: the top is always an open window, so `nextDeadline` is
   * exact.
   */
  readonly deadlines: readonly AbsenceDeadline[];
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

function heapPush(heap: AbsenceDeadline[], item: AbsenceDeadline): void {
  heap.push(item);
  let index = heap.length - 1;
  while (index > 0) {
    const parent = (index - 1) >>> 1;
    if (!before(heap[index] as AbsenceDeadline, heap[parent] as AbsenceDeadline)) break;
    [heap[index], heap[parent]] = [heap[parent] as AbsenceDeadline, heap[index] as AbsenceDeadline];
    index = parent;
  }
}

function heapPop(heap: AbsenceDeadline[]): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  heap[0] = last;
  let index = 0;
  for (;;) {
    const left = 2 * index + 1;
    const right = left + 1;
    let smallest = index;
    if (left < heap.length && before(heap[left] as AbsenceDeadline, heap[smallest] as AbsenceDeadline)) smallest = left;
    if (right < heap.length && before(heap[right] as AbsenceDeadline, heap[smallest] as AbsenceDeadline)) smallest = right;
    if (smallest === index) return;
    [heap[index], heap[smallest]] = [heap[smallest] as AbsenceDeadline, heap[index] as AbsenceDeadline];
    index = smallest;
  }
}

/**
 * Whether a heap entry is still an open window. Heap order and each key's `open` order agree, so
 * an open window at the top of the heap is necessarily the first open window of its key.
 */
function isOpenHead(windows: KeyedJsonMap<AbsenceWindows>, item: AbsenceDeadline): boolean {
  return keyedGet(windows, item.key)?.open[0]?.event.eventId === item.eventId;
}

/** Drops closed windows from the top of the heap (copying it only when there is one). */
function withOpenTop(heap: readonly AbsenceDeadline[], windows: KeyedJsonMap<AbsenceWindows>): readonly AbsenceDeadline[] {
  const top = heap[0];
  if (top === undefined || isOpenHead(windows, top)) return heap;
  const copy = [...heap];
  while (copy.length > 0 && !isOpenHead(windows, copy[0] as AbsenceDeadline)) heapPop(copy);
  return copy;
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
          const copy = [...deadlines];
          heapPush(copy, { deadline: time + within, position: event.position, key, eventId: event.eventId });
          deadlines = copy;
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
      return { state: { kind: 'absence', newestTime, sweptAt, windows, deadlines }, firings: [], late: [] };
    },

    onTime(state, now): EvaluationResult<AbsenceConditionState> {
      const top = state.deadlines[0];
      if (top === undefined || top.deadline + allowedLatenessMs > now) return unchanged(state);
      const heap = [...state.deadlines];
      let windows = state.windows;
      const firings: ConditionFiring[] = [];
      while (heap.length > 0 && (heap[0] as AbsenceDeadline).deadline + allowedLatenessMs <= now) {
        const due = heap[0] as AbsenceDeadline;
        heapPop(heap);
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
      const deadlines = withOpenTop(heap, windows);
      return { state: { ...state, windows, deadlines }, firings, late: [] };
    },

    nextDeadline(state) {
      const top = state.deadlines[0];
      return top === undefined ? null : top.deadline + allowedLatenessMs;
    },
  };
}
