import { CronExpressionParser, type CronExpression } from 'cron-parser';
import type { ScheduleTriggerCondition } from '@meridian/domain';
import type { ConditionEvaluator, ConditionFiring, EvaluationOptions, EvaluationResult } from './condition-evaluator';

/**
 * `schedule` conditions: a cron expression in an IANA time zone (UTC when absent), with cron-parser.
 *
 * State is the last tick fired (epoch ms), or the time the schedule counts from (`since`: when the
 * trigger or its condition was created) before the first tick. `onTime(now)` fires the ticks `t` with
 * `last < t <= now`; the next deadline is the first tick after `last`.
 *
 * Timers fire on time after a restart that spans their deadline (late, once, marked late):
 * - A tick is on time when `now - t <= onTimeToleranceMs` (default 1000 ms): the clock that drives
 *   `onTime` reached it within the tolerance. Each on-time tick fires with `late: false`.
 * - Ticks further behind `now` than that were missed (the process was down, or the driver stalled).
 *   They collapse into one firing of the most recent of them, with `late: true`: an hourly report
 *   that missed three hours while the process was down runs once when it comes back, not three times
 *   in a burst. The earlier missed ticks never fire (nor are they counted: finding them all would
 *   mean walking every tick of the downtime).
 * - `allowedLatenessMs` is about events; a schedule reads no events, so its ticks are due at their
 *   own time and do not wait for it.
 *
 * Daylight saving time follows cron-parser's `next()` (and only `next()`: its `prev()` resolves the
 * transitions differently, so it is used only as a hint that `next()` confirms). In Europe/Berlin:
 * - Spring forward (02:00 → 03:00): a daily `30 2 * * *` still fires that day, at 03:30 local
 *   (01:30 UTC, the instant 02:30 would have been before the change), once. `0 * * * *` fires every
 *   real hour: there is no 02:00 local, so that calendar day has 23 firings.
 * - Fall back (03:00 → 02:00, the 02:xx hour happens twice): a daily `30 2 * * *` fires only at the
 *   first 02:30 (00:30 UTC), never again at the repeated one; an expression with a fixed hour fires
 *   only in the first pass of the repeated hour. `0 * * * *` (any hour) fires every real hour,
 *   including both 02:00s: that calendar day has 25 firings, one per real hour.
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
  readonly onTimeToleranceMs?: number;
}

export const DEFAULT_ON_TIME_TOLERANCE_MS = 1000;

/** How many `prev()` hints are tried before walking the ticks one by one from the last fired. */
const PREV_HINTS = 4;

export function scheduleOccurrenceKey(tick: number): string {
  return `schedule:${new Date(tick).toISOString()}`;
}

/**
 * The ticks of one cron expression in one zone. One parsed expression is reused (its iterator is
 * reset before each question), and the latest `next` answer is remembered because the process
 * manager asks for the same deadline again and again.
 */
class CronTicks {
  private readonly expression: CronExpression;
  private memo: { readonly after: number; readonly next: number | null } | null = null;

  constructor(cron: string, timezone: string, since: number) {
    this.expression = CronExpressionParser.parse(cron.trim(), { tz: timezone, currentDate: new Date(since) });
    // The zone is only checked when a date is computed, and a schedule that never fires is an error.
    if (this.after(since) === null) throw new Error(`the schedule "${cron}" (${timezone}) has no tick after ${new Date(since).toISOString()}`);
  }

  /** The first tick strictly after `after`, or null when there is none. */
  after(after: number): number | null {
    if (this.memo?.after === after) return this.memo.next;
    let next: number | null;
    try {
      this.expression.reset(new Date(after));
      next = this.expression.next().getTime();
    } catch {
      next = null;
    }
    // A tick at or before `after` would make the caller loop forever; treat it as the end.
    if (next !== null && next <= after) next = null;
    this.memo = { after, next };
    return next;
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

  /**
   * The latest tick `t` with `after < t <= atOrBefore`, as `after()` walks them, or null. `prev()`
   * jumps close to the bound (a long downtime of a per-second schedule must not be walked tick by
   * tick); its answer is used only when `after()` confirms it is a tick of the same walk.
   */
  latest(after: number, atOrBefore: number): number | null {
    const first = this.after(after);
    if (first === null || first > atOrBefore) return null;
    let anchor = first;
    let probe = atOrBefore + 1;
    for (let hint = 0; hint < PREV_HINTS; hint += 1) {
      const candidate = this.before(probe);
      if (candidate === null || candidate <= first) break;
      if (candidate <= atOrBefore && this.after(candidate - 1) === candidate) {
        anchor = candidate;
        break;
      }
      probe = candidate;
    }
    let latest = anchor;
    for (let next = this.after(latest); next !== null && next <= atOrBefore; next = this.after(latest)) latest = next;
    return latest;
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
  const tolerance = options.onTimeToleranceMs ?? DEFAULT_ON_TIME_TOLERANCE_MS;
  if (!Number.isFinite(options.since)) throw new Error('a schedule needs the epoch ms it counts from (since)');
  if (!(tolerance >= 0)) throw new Error('onTimeToleranceMs must be zero or more');
  const ticks = new CronTicks(condition.cron, timezone, options.since);

  return {
    initialState: () => ({ kind: 'schedule', last: options.since }),

    // A schedule reads no events.
    onEvent: (state) => ({ state, firings: [], late: [] }),

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
      return { state: last === state.last ? state : { kind: 'schedule', last }, firings, late: [] };
    },

    nextDeadline: (state) => ticks.after(state.last),
  };
}
