import { typeMatches, type JsonLogicExpression, type TriggerEventMatch, type TriggerScope } from '@meridian/domain';
import { compileJsonLogicCondition, type CompiledCondition } from '../routing/json-logic-condition';
import { parseTypePattern } from '../routing/subscription-matcher';
import { matchedEvent, type EvaluationOptions, type EvaluationResult, type MatchedEvent, type TriggerEvent, NO_FIRINGS, NO_LATE_EVENTS } from './condition-evaluator';

/**
 * What the event-driven condition kinds (`event`, `threshold`, `sequence`, `absence`) share:
 * matching an event against a `{ type, filter }`, the key an event is counted under, the
 * event-time watermark that decides lateness, and time-ordered buffers of matched events.
 */

/** A match that cannot be used, or a filter that failed on one event: either way, it does not match. */
export interface TriggerMatchError {
  /** Where the match sits in the condition: `condition.match`, `condition.steps[1]`, `condition.then`… */
  readonly path: string;
  /** `compile`: reported once, the match never matches. `evaluate`: for this event only. */
  readonly phase: 'compile' | 'evaluate';
  readonly reason: 'invalid-type' | 'invalid-filter' | 'threw' | 'non-boolean';
  readonly message: string;
  readonly event?: { readonly eventId: string; readonly type: string };
}

export type TriggerMatchErrorHandler = (error: TriggerMatchError) => void;

export interface WindowEvaluationOptions extends EvaluationOptions {
  /**
   * How far `now` may be past a deadline's closing time (deadline + allowed lateness) before the
   * firing it decides is marked `late`: the clock is advanced in ticks, so a firing a tick after its
   * closing time is on time, one hours after it means the process was down. Default 1000 ms.
   */
  readonly lateToleranceMs?: number;
  /** Told about unusable matches and failing filters; a failing handler is ignored. */
  readonly onMatchError?: TriggerMatchErrorHandler;
}

export const DEFAULT_LATE_TOLERANCE_MS = 1_000;

export interface ResolvedWindowOptions {
  readonly allowedLatenessMs: number;
  readonly lateToleranceMs: number;
  readonly onMatchError: TriggerMatchErrorHandler | undefined;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  return value;
}

export function resolveWindowOptions(options: WindowEvaluationOptions): ResolvedWindowOptions {
  return {
    allowedLatenessMs: nonNegative(options.allowedLatenessMs, 'allowedLatenessMs'),
    lateToleranceMs: nonNegative(options.lateToleranceMs ?? DEFAULT_LATE_TOLERANCE_MS, 'lateToleranceMs'),
    onMatchError: options.onMatchError,
  };
}

function report(onError: TriggerMatchErrorHandler | undefined, error: TriggerMatchError): void {
  if (onError === undefined) return;
  try {
    onError(error);
  } catch {
    // A failing handler must not turn a bad filter into a failed evaluation.
  }
}

export type EventPredicate = (event: TriggerEvent) => boolean;

/**
 * `type` is matched as subscriptions match it (exact, a prefix ending in `*`, or `*`), and `filter`
 * is JSON Logic over the CloudEvent view with the same semantics: only the boolean `true` holds.
 * A match that cannot be compiled never matches (reported once, here).
 */
export function compileEventMatch(match: TriggerEventMatch, path: string, onError?: TriggerMatchErrorHandler): EventPredicate {
  const base = { path, phase: 'compile' as const };
  if (parseTypePattern(match.type).kind === 'invalid') {
    report(onError, { ...base, reason: 'invalid-type', message: 'type must be an event type, a prefix ending in *, or *' });
    return () => false;
  }
  let filter: CompiledCondition | undefined;
  if (match.filter !== undefined) {
    const compilation = compileJsonLogicCondition(match.filter as JsonLogicExpression, `${path}.filter`);
    if (!compilation.ok) {
      const message = compilation.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      report(onError, { ...base, reason: 'invalid-filter', message });
      return () => false;
    }
    filter = compilation.condition;
  }
  const { type } = match;
  return (event) => {
    if (!typeMatches(type, event.view.type)) return false;
    if (filter === undefined) return true;
    const result = filter.evaluate(event.view);
    if (result.ok) return result.value;
    report(onError, {
      path,
      phase: 'evaluate',
      reason: result.reason,
      message: result.message,
      event: { eventId: event.eventId, type: event.view.type },
    });
    return false;
  };
}

/** The one key of a `global` condition; subjects are the keys of a `per: subject` one. */
export const GLOBAL_KEY = 'global';

/**
 * The key an event is counted under: its subject, or the global key. An event without a subject
 * belongs to no subject's window, so a `per: subject` condition does not see it at all.
 */
export function windowKeyOf(per: TriggerScope, event: TriggerEvent): string | null {
  return per === 'global' ? GLOBAL_KEY : event.view.subject;
}

/** The firing's `subject`: the window's subject, null for a global window. */
export function firingSubject(per: TriggerScope, key: string): string | null {
  return per === 'global' ? null : key;
}

/** Event times must be epoch milliseconds; anything else would poison the watermark for good. */
export function eventTimeOf(event: TriggerEvent): number {
  if (!Number.isFinite(event.eventTime)) throw new RangeError(`event ${event.eventId} has no usable eventTime (${event.eventTime})`);
  return event.eventTime;
}

/**
 * Late means older than the watermark: the newest event time seen (among events the condition
 * matched) minus the allowed lateness. An event exactly at the watermark still counts.
 */
export function isLate(newestTime: number | null, eventTime: number, allowedLatenessMs: number): boolean {
  return newestTime !== null && eventTime < newestTime - allowedLatenessMs;
}

export function newest(newestTime: number | null, eventTime: number): number {
  return newestTime === null ? eventTime : Math.max(newestTime, eventTime);
}

export function unchanged<S>(state: S): EvaluationResult<S> {
  return { state, firings: NO_FIRINGS, late: NO_LATE_EVENTS };
}

export function lateEvent<S>(state: S, event: TriggerEvent): EvaluationResult<S> {
  return { state, firings: [], late: [matchedEvent(event)] };
}

/** A matched event held in a window, with its time as epoch ms so windows need not parse dates. */
export interface WindowEntry {
  readonly event: MatchedEvent;
  readonly at: number;
}

export function windowEntry(event: TriggerEvent): WindowEntry {
  return { event: matchedEvent(event), at: eventTimeOf(event) };
}

/** Event-time order; events at the same time are in store order. */
export function compareEntries(a: { readonly at: number; readonly event: MatchedEvent }, b: { readonly at: number; readonly event: MatchedEvent }): number {
  return a.at - b.at || a.event.position - b.event.position;
}

/** Index of the first entry that sorts after `entry` (binary search over a list in event-time order). */
export function insertionIndex(entries: readonly WindowEntry[], entry: WindowEntry): number {
  return partitionPoint(entries.length, (index) => compareEntries(entries[index] as WindowEntry, entry) <= 0);
}

/** The first index in [0, length) where `isBefore` turns false, for a predicate true on a prefix only. */
export function partitionPoint(length: number, isBefore: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isBefore(middle)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Index of the first entry at or after `time`, in a list in event-time order. */
export function firstIndexAtOrAfter(entries: readonly { readonly at: number }[], time: number): number {
  return partitionPoint(entries.length, (index) => (entries[index] as { readonly at: number }).at < time);
}

/** Index of the first entry after `time`, in a list in event-time order. */
export function firstIndexAfter(entries: readonly { readonly at: number }[], time: number): number {
  return partitionPoint(entries.length, (index) => (entries[index] as { readonly at: number }).at <= time);
}

/**
 * Whether it is time to sweep every key for entries no future event can use: once the newest
 * event time has moved on by a retention period since the last sweep. Sweeping that rarely keeps
 * the cost per event constant however many keys there are, and keeps at most about two retention
 * periods of entries.
 */
export function sweepDue(newestTime: number, sweptAt: number | null, retentionMs: number): boolean {
  return sweptAt === null || newestTime - sweptAt >= Math.max(1, retentionMs);
}
