import { parseIsoDuration, type ThresholdTriggerCondition } from '@meridian/domain';
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
  type WindowEntry,
  type WindowEvaluationOptions,
} from './window-evaluation';

/**
 * `threshold`: at least `count` matching events within a sliding window of `within`, per subject
 * or across all subjects (`per`).
 *
 * - A window is inclusive: `count` events whose times span exactly `within` are within it.
 * - Once per burst: it fires when the count is reached, and the `count` events that reached it are
 *   consumed, so the next firing needs `count` new events (a burst of 7 with `count: 3` fires
 *   twice, on the 3rd and the 6th). Because the count is checked on every event, the events held
 *   for a key never already hold `count` within `within`, and a firing holds exactly `count`.
 * - Events are placed by event time, so an out-of-order event within the allowed lateness counts
 *   where it belongs. When it completes more than one window, the earliest one fires.
 * - `at` is the time of the event whose arrival completed the window; the occurrence key
 *   `threshold:<subject or "global">:<its eventId>` is unique since an event completes at most one
 *   window.
 * - Bounded: an event older than the newest time seen minus `within` minus the allowed lateness can
 *   share a window with no event still to come, so it is dropped.
 */
export interface ThresholdConditionState {
  readonly kind: 'threshold';
  /** Newest event time (epoch ms) among matched events; null before the first. */
  readonly newestTime: number | null;
  /** `newestTime` when every key was last swept for old events. */
  readonly sweptAt: number | null;
  /** Per key (subject, or "global"): matched events not yet part of a firing, in event-time order. */
  readonly windows: KeyedJsonMap<readonly WindowEntry[]>;
}

/** The entries from `horizon` on; undefined when none is left. */
function pruned(entries: readonly WindowEntry[], horizon: number): readonly WindowEntry[] | undefined {
  const from = firstIndexAtOrAfter(entries, horizon);
  if (from === 0) return entries;
  return from >= entries.length ? undefined : entries.slice(from);
}

export function thresholdConditionEvaluator(
  condition: ThresholdTriggerCondition,
  options: WindowEvaluationOptions,
): ConditionEvaluator<ThresholdConditionState> {
  const { allowedLatenessMs, onMatchError } = resolveWindowOptions(options);
  const within = parseIsoDuration(condition.within, 'condition.within');
  const { count, per } = condition;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`condition.count must be a positive integer, got ${count}`);
  const matches = compileEventMatch(condition.match, 'condition.match', onMatchError);
  const retention = within + allowedLatenessMs;

  return {
    initialState: () => ({ kind: 'threshold', newestTime: null, sweptAt: null, windows: emptyKeyedJsonMap() }),

    onEvent(state, event) {
      if (!matches(event)) return unchanged(state);
      const key = windowKeyOf(per, event);
      if (key === null) return unchanged(state);
      const time = eventTimeOf(event);
      if (isLate(state.newestTime, time, allowedLatenessMs)) return lateEvent(state, event);

      const newestTime = newest(state.newestTime, time);
      const horizon = newestTime - retention;
      const held = pruned(keyedGet(state.windows, key) ?? [], horizon) ?? [];
      const entry = windowEntry(event);
      const index = insertionIndex(held, entry);
      let entries = [...held.slice(0, index), entry, ...held.slice(index)];

      // Only a window holding the new event can have reached the count: look at each run of
      // `count` consecutive events that contains it, earliest first.
      const firings: ConditionFiring[] = [];
      for (let start = Math.max(0, index - count + 1); start <= index && start + count <= entries.length; start += 1) {
        const window = entries.slice(start, start + count);
        if ((window[count - 1] as WindowEntry).at - (window[0] as WindowEntry).at > within) continue;
        firings.push({
          occurrenceKey: `threshold:${key}:${event.eventId}`,
          subject: firingSubject(per, key),
          matched: window.map((item) => item.event),
          at: time,
          late: false,
        });
        entries = [...entries.slice(0, start), ...entries.slice(start + count)];
        break;
      }

      let windows = keyedSet(state.windows, key, entries.length > 0 ? entries : undefined);
      let sweptAt = state.sweptAt;
      if (sweepDue(newestTime, sweptAt, retention)) {
        windows = keyedUpdateAll(windows, (items) => pruned(items, horizon));
        sweptAt = newestTime;
      }
      return { state: { kind: 'threshold', newestTime, sweptAt, windows }, firings, late: NO_LATE_EVENTS };
    },

    // The count is reached by an event, never by time passing.
    onTime: (state) => unchanged(state),
    nextDeadline: () => null,
  };
}
