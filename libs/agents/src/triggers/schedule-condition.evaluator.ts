import { CronDate, CronExpressionParser, type CronExpression } from 'cron-parser';
import type { ScheduleTriggerCondition } from '@meridian/domain';
import { NO_FIRINGS, NO_LATE_EVENTS, type ConditionEvaluator, type ConditionFiring, type EvaluationOptions, type EvaluationResult } from './condition-evaluator';
import { DEFAULT_LATE_TOLERANCE_MS } from './window-evaluation';

/**
 * `schedule` conditions: a cron expression in an IANA time zone (UTC when absent), with cron-parser.
 *
 * State is the last tick fired (epoch ms), or the time the schedule counts from (`since`: when the
 * trigger or its condition was created) before the first tick. `onTime(now)` fires the ticks `t` with
 * `last < t <= now`; the next deadline is the first tick after `last`.
 *
 * Timers fire on time after a restart that spans their deadline (late, once, marked late):
 * - A tick is on time when `now - t <= lateToleranceMs` (default 1000 ms, as for the other
 *   conditions' deadlines): the clock that drives `onTime` reached it within the tolerance. Each
 *   on-time tick fires with `late: false`.
 * - Ticks further behind `now` than that were missed (the process was down, or the driver stalled).
 *   They collapse into one firing of the most recent of them, with `late: true`: an hourly report
 *   that missed three hours while the process was down runs once when it comes back, not three times
 *   in a burst. The earlier missed ticks never fire (nor are they counted: finding them all would
 *   mean walking every tick of the downtime).
 * - `allowedLatenessMs` is about events; a schedule reads no events, so its ticks are due at their
 *   own time and do not wait for it.
 *
 * Daylight saving time follows cron-parser's `next()`, walked from the last tick fired. Its `prev()`
 * resolves the transitions differently, so it only serves to jump close to `now` after a downtime
 * (from a time no DST change is near, where both agree) and to find a tick `next()` cannot compute.
 * In Europe/Berlin:
 * - Spring forward (02:00 → 03:00): a daily `30 2 * * *` still fires that day, at 03:30 local
 *   (01:30 UTC, the instant 02:30 would have been before the change), once. `0 * * * *` fires every
 *   real hour: there is no 02:00 local, so that calendar day has 23 firings.
 * - Fall back (03:00 → 02:00, the 02:xx hour happens twice): a daily `30 2 * * *` fires only at the
 *   first 02:30 (00:30 UTC), never again at the repeated one; an expression with a fixed hour fires
 *   only in the first pass of the repeated hour. `0 * * * *` (any hour) fires every real hour,
 *   including both 02:00s: that calendar day has 25 firings, one per real hour.
 * In zones whose offset is not a whole number of hours (Australia/Lord_Howe, Pacific/Chatham),
 * cron-parser fails or skips some ticks of the DST nights; the schedule then goes on from the next
 * tick it can compute: it may miss a tick of that night, never fires one twice, never stops.
 *
 * Occurrence keys are `schedule:<tick as ISO-8601 UTC>`, so a tick fires at most once whatever the
 * number of evaluations.
 */

export interface ScheduleConditionState {
  readonly kind: 'schedule';
  /** Epoch ms of the last tick fired, or `since` before the first. */
  readonly last: number;
}

export interface ScheduleEvaluatorOptions extends EvaluationOptions {
  /** Epoch ms the schedule counts from (the trigger's, or its condition's, creation): its first tick is the first after it. */
  readonly since: number;
  /** How far behind `now` a tick may be and still fire on time (`late: false`). Default 1000 ms. */
  readonly lateToleranceMs?: number;
}

/** How many `prev()` hints are tried before walking the ticks one by one from the last fired. */
const PREV_HINTS = 4;
/** More than any DST shift (one hour almost everywhere, two at most): how near a change a time is "near". */
const DST_MARGIN_MS = 3 * 60 * 60 * 1000;
/** How far ahead `prev()` looks for the next tick when `next()` fails (growing, so it steps back over few ticks). */
const RECOVERY_HORIZONS_MS = [1, 6, 24, 8 * 24, 32 * 24, 367 * 24, 5 * 366 * 24].map((hours) => hours * 60 * 60 * 1000);
/** Deadlines asked for again and again (by the timer loop, by `onTime`) are computed once. */
const MEMO_SIZE = 32;

export function scheduleOccurrenceKey(tick: number): string {
  return `schedule:${new Date(tick).toISOString()}`;
}

/**
 * The ticks of one cron expression in one zone. One parsed expression is reused (its iterator is
 * reset before each question), and the latest answers are remembered because the process manager
 * asks for the same deadline again and again.
 */
class CronTicks {
  private readonly expression: CronExpression;
  private readonly memo = new Map<number, number | null>();

  constructor(cron: string, private readonly timezone: string, since: number) {
    this.expression = CronExpressionParser.parse(cron.trim(), { tz: timezone, currentDate: new Date(since) });
    // The zone is only checked when a date is computed, and a schedule that never fires is an error.
    if (this.after(since) === null) throw new Error(`the schedule "${cron}" (${timezone}) has no tick after ${new Date(since).toISOString()}`);
  }

  /**
   * The first tick strictly after `after`, or null when there is none. Near the DST changes of zones
   * whose offset is not a whole number of hours (Australia/Lord_Howe, Pacific/Chatham) cron-parser's
   * `next()` sometimes exceeds its loop limit or answers a time before the one it was given; its
   * `prev()` still works there, so the tick is then found by stepping back from further ahead.
   */
  after(after: number): number | null {
    const known = this.memo.get(after);
    if (known !== undefined) return known;
    const next = this.nextFrom(after) ?? this.firstBackFrom(after);
    if (this.memo.size >= MEMO_SIZE) this.memo.delete(this.memo.keys().next().value as number);
    this.memo.set(after, next);
    return next;
  }

  private nextFrom(after: number): number | null {
    try {
      this.expression.reset(new Date(after));
      const next = this.expression.next().getTime();
      return next > after ? next : null;
    } catch {
      return null;
    }
  }

  /** The earliest match after `after`, walking `prev()` back from ever further ahead. */
  private firstBackFrom(after: number): number | null {
    for (const horizon of RECOVERY_HORIZONS_MS) {
      let earliest = this.before(after + horizon);
      if (earliest === null || earliest <= after) continue;
      for (let previous = this.before(earliest); previous !== null && previous > after && previous < earliest; previous = this.before(earliest)) {
        earliest = previous;
      }
      return earliest;
    }
    return null;
  }

  /** cron-parser's `prev()`: a match strictly before `before`, not always one `after()` would give. */
  private before(before: number): number | null {
    try {
      this.expression.reset(new Date(before));
      return this.expression.prev().getTime();
    } catch {
      return null;
    }
  }

  /** Whether no UTC offset change of the zone is within `DST_MARGIN_MS` of `at`. */
  private clear(at: number): boolean {
    return new CronDate(at - DST_MARGIN_MS, this.timezone).getUTCOffset() === new CronDate(at + DST_MARGIN_MS, this.timezone).getUTCOffset();
  }

  /**
   * The latest tick `t` with `after < t <= atOrBefore` of the walk `after()` makes from `after`, or
   * null. A long downtime of a per-second schedule must not be walked tick by tick, so the walk
   * starts close to the bound instead: just before the match `prev()` finds there, when no DST
   * change is near it. Away from DST changes `next()` and `prev()` agree and a walk started anywhere
   * joins the walk from `after`; started inside a shifted or repeated hour, `next()` may give a tick
   * the walk from `after` skips (the second 02:30 of a fall-back night), so such a start moves
   * further back.
   */
  latest(after: number, atOrBefore: number): number | null {
    const first = this.after(after);
    if (first === null || first > atOrBefore) return null;
    let start = after;
    let probe = atOrBefore + 1;
    for (let hint = 0; hint < PREV_HINTS; hint += 1) {
      const match = this.before(probe);
      if (match === null || match <= first) break;
      if (this.clear(match)) {
        start = match - 1;
        break;
      }
      probe = match - DST_MARGIN_MS;
    }
    let latest: number | null = null;
    for (let next = this.after(start); next !== null && next <= atOrBefore; next = this.after(next)) latest = next;
    return latest ?? first;
  }
}

function firing(tick: number, late: boolean): ConditionFiring {
  return { occurrenceKey: scheduleOccurrenceKey(tick), subject: null, matched: [], at: tick, late };
}

export function scheduleConditionEvaluator(
  condition: ScheduleTriggerCondition,
  options: ScheduleEvaluatorOptions,
): ConditionEvaluator<ScheduleConditionState> {
  const timezone = condition.timezone !== undefined && condition.timezone !== '' ? condition.timezone : 'UTC';
  const tolerance = options.lateToleranceMs ?? DEFAULT_LATE_TOLERANCE_MS;
  if (!Number.isFinite(options.since)) throw new Error('a schedule needs the epoch ms it counts from (since)');
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError(`lateToleranceMs must be a finite number ≥ 0, got ${tolerance}`);
  const ticks = new CronTicks(condition.cron, timezone, options.since);

  return {
    initialState: () => ({ kind: 'schedule', last: options.since }),

    // A schedule reads no events.
    onEvent: (state) => ({ state, firings: NO_FIRINGS, late: NO_LATE_EVENTS }),

    onTime(state, now): EvaluationResult<ScheduleConditionState> {
      const firings: ConditionFiring[] = [];
      let last = state.last;
      // Ticks with now - t > tolerance were missed: only the most recent of them fires, marked late.
      const missed = ticks.latest(last, Math.ceil(now - tolerance) - 1);
      if (missed !== null) {
        firings.push(firing(missed, true));
        last = missed;
      }
      for (let next = ticks.after(last); next !== null && next <= now; next = ticks.after(last)) {
        firings.push(firing(next, false));
        last = next;
      }
      return { state: last === state.last ? state : { kind: 'schedule', last }, firings, late: NO_LATE_EVENTS };
    },

    nextDeadline: (state) => ticks.after(state.last),
  };
}
