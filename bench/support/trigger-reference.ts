import { CronExpressionParser } from 'cron-parser';
import type { ConditionSpec, FieldTest, MatchSpec, TriggerSpec } from './trigger-workload';

/**
 * The ground truth of the trigger accuracy benchmark: each condition kind's documented semantics
 * (libs/agents/src/triggers/*-condition.evaluator.ts doc comments), written again from the
 * documentation alone, as plainly as possible — brute force over every event seen so far, sorted
 * by event time, with no incremental window state and no code shared with the evaluators.
 *
 * What the documentation makes depend on arrival (store) order is followed in store order:
 * - lateness: an event is late when its time is older than the newest time among the events the
 *   trigger took before it, minus the allowed lateness; late events are counted, never evaluated;
 * - consumption: a threshold's window and a sequence's events up to its completion are used up by
 *   the arrival that completed them, so later arrivals cannot reuse them;
 * - absence windows close when the clock, advanced in ticks after the events stored before them,
 *   passes deadline + allowed lateness; a `then` only counts if it was evaluated before that tick.
 * The timeline (store order of events and the clock readings between them) is the one the engine
 * was driven through; restarts and crashes are not in it: the engine must behave as if they had
 * not happened.
 */

export interface ReferenceEvent {
  /** The stored event id (what firings list as matched events). */
  readonly eventId: string;
  readonly position: number;
  readonly type: string;
  readonly subject: string | null;
  /** Event time, epoch ms. */
  readonly time: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The clock was advanced to `now` once every event at or below `afterPosition` had been evaluated. */
export interface ReferenceAdvance {
  readonly afterPosition: number;
  readonly now: number;
}

export interface ReferenceFiring {
  readonly occurrenceKey: string;
  /** Stored ids of the events that made it fire, oldest first. */
  readonly matched: readonly string[];
}

export interface ReferenceResult {
  readonly firings: readonly ReferenceFiring[];
  /** Events the trigger matched but could not evaluate because they were too late. */
  readonly lateEvents: number;
}

export interface ReferenceOptions {
  readonly allowedLatenessMs: number;
  readonly lateToleranceMs: number;
  /** When the trigger was defined (epoch ms): a schedule's first tick is the first after it. */
  readonly since: number;
}

// --- matching -------------------------------------------------------------------------------

function valueAt(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return null;
    current = (current as Record<string, unknown>)[segment];
  }
  return current ?? null;
}

/** JSON Logic's comparisons are JavaScript's (`==` is loose, a missing field is null). */
export function fieldHolds(test: FieldTest, root: unknown): boolean {
  const value = valueAt(root, test.path) as number | string | null;
  const expected = test.value;
  switch (test.op) {
    case '>=':
      return (value as number) >= (expected as number);
    case '>':
      return (value as number) > (expected as number);
    case '<':
      return (value as number) < (expected as number);
    case '==':
      return value == expected;
    case 'in':
      return Array.isArray(expected) && (expected as readonly unknown[]).includes(value);
  }
}

function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

function matches(spec: MatchSpec, event: ReferenceEvent): boolean {
  if (!typeMatches(spec.type, event.type)) return false;
  if (spec.where === undefined) return true;
  // Filters read the CloudEvent view: `data.amount` is the payload's `amount`.
  return fieldHolds(spec.where, { type: event.type, subject: event.subject, data: event.data });
}

/** `inventory` is the type of `inventory`, `inventory-1`, `inventory:1`, not of `inventoryItem-1`. */
function subjectOfType(subject: string, subjectType: string | undefined): boolean {
  if (subjectType === undefined || subjectType === '') return true;
  if (!subject.startsWith(subjectType)) return false;
  if (subject.length === subjectType.length) return true;
  const word = /[\p{L}\p{N}_]/u;
  return !word.test(subjectType.slice(-1)) || !word.test(subject.charAt(subjectType.length));
}

const byTime = (a: ReferenceEvent, b: ReferenceEvent) => a.time - b.time || a.position - b.position;

// --- the window kinds ------------------------------------------------------------------------

/** The events a window condition takes, in store order, each with its key and whether it was late. */
interface Taken {
  readonly event: ReferenceEvent;
  readonly key: string;
  readonly late: boolean;
}

function taken(events: readonly ReferenceEvent[], isMatch: (event: ReferenceEvent) => boolean, per: 'subject' | 'global' | null, latenessMs: number): Taken[] {
  const out: Taken[] = [];
  let newest: number | null = null;
  for (const event of events) {
    if (!isMatch(event)) continue;
    // `event` conditions have no window and see every event; `per: subject` ones none without a subject.
    const key = per === 'subject' ? event.subject : 'global';
    if (key === null) continue;
    const late = newest !== null && event.time < newest - latenessMs;
    if (!late) newest = newest === null ? event.time : Math.max(newest, event.time);
    out.push({ event, key, late });
  }
  return out;
}

function eventReference(spec: Extract<ConditionSpec, { kind: 'event' }>, events: readonly ReferenceEvent[], options: ReferenceOptions): ReferenceResult {
  const all = taken(events, (event) => matches(spec.match, event), null, options.allowedLatenessMs);
  return {
    firings: all.filter((t) => !t.late).map((t) => ({ occurrenceKey: `event:${t.event.eventId}`, matched: [t.event.eventId] })),
    lateEvents: all.filter((t) => t.late).length,
  };
}

/**
 * On each arrival: among the key's events taken so far and not yet used by a firing, sorted by
 * time, is there a run of `count` whose times span at most `within`? The earliest such run fires,
 * keyed by the arrival, and is used up.
 */
function thresholdReference(spec: Extract<ConditionSpec, { kind: 'threshold' }>, events: readonly ReferenceEvent[], options: ReferenceOptions): ReferenceResult {
  const all = taken(events, (event) => matches(spec.match, event), spec.per, options.allowedLatenessMs);
  const unused = new Map<string, ReferenceEvent[]>();
  const firings: ReferenceFiring[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  for (const { event, key, late } of all) {
    if (late) continue;
    newest = Math.max(newest, event.time);
    // Events older than this can share a window with no event still to come (bounds the work only).
    const oldest = newest - options.allowedLatenessMs - spec.withinMs;
    const pool = [...(unused.get(key) ?? []), event].filter((e) => e.time >= oldest).sort(byTime);
    let fired: ReferenceEvent[] | null = null;
    for (let start = 0; start + spec.count <= pool.length && fired === null; start += 1) {
      const run = pool.slice(start, start + spec.count);
      if ((run[run.length - 1] as ReferenceEvent).time - (run[0] as ReferenceEvent).time <= spec.withinMs) fired = run;
    }
    if (fired !== null) {
      firings.push({ occurrenceKey: `threshold:${key}:${event.eventId}`, matched: fired.map((e) => e.eventId) });
      const used = new Set(fired);
      unused.set(key, pool.filter((e) => !used.has(e)));
    } else unused.set(key, pool);
  }
  return { firings, lateEvents: all.filter((t) => t.late).length };
}

/**
 * On each arrival: among the key's events taken and not yet used, sorted by time, the first event
 * that ends a chain step 0, step 1, … (one event per step, in order, the last within `within` of
 * the first). It fires for the earliest first step that reaches it, with the earliest event of
 * each step in between, keyed by that first step; every event up to the end is used up.
 */
function sequenceReference(spec: Extract<ConditionSpec, { kind: 'sequence' }>, events: readonly ReferenceEvent[], options: ReferenceOptions): ReferenceResult {
  const steps = spec.steps;
  const stepsOf = (event: ReferenceEvent) => steps.flatMap((step, index) => (matches(step, event) ? [index] : []));
  const all = taken(events, (event) => stepsOf(event).length > 0, spec.per, options.allowedLatenessMs);
  const unused = new Map<string, ReferenceEvent[]>();
  const firings: ReferenceFiring[] = [];
  let newest = Number.NEGATIVE_INFINITY;

  const chainEndingAt = (pool: readonly ReferenceEvent[], end: number): ReferenceEvent[] | null => {
    const last = pool[end] as ReferenceEvent;
    if (!stepsOf(last).includes(steps.length - 1)) return null;
    if (steps.length === 1) return [last];
    for (let first = 0; first < end; first += 1) {
      const start = pool[first] as ReferenceEvent;
      if (!stepsOf(start).includes(0) || last.time - start.time > spec.withinMs) continue;
      const chain = [start];
      let at = first + 1;
      for (let step = 1; step < steps.length - 1; step += 1) {
        while (at < end && !stepsOf(pool[at] as ReferenceEvent).includes(step)) at += 1;
        if (at >= end) break;
        chain.push(pool[at] as ReferenceEvent);
        at += 1;
      }
      if (chain.length === steps.length - 1) return [...chain, last];
    }
    return null;
  };

  for (const { event, key, late } of all) {
    if (late) continue;
    newest = Math.max(newest, event.time);
    const oldest = newest - options.allowedLatenessMs - spec.withinMs;
    const pool = [...(unused.get(key) ?? []), event].filter((e) => e.time >= oldest).sort(byTime);
    let rest = pool;
    for (let end = 0; end < pool.length; end += 1) {
      const chain = chainEndingAt(pool, end);
      if (chain === null) continue;
      firings.push({ occurrenceKey: `sequence:${key}:${(chain[0] as ReferenceEvent).eventId}`, matched: chain.map((e) => e.eventId) });
      rest = pool.slice(end + 1);
      break;
    }
    unused.set(key, rest);
  }
  return { firings, lateEvents: all.filter((t) => t.late).length };
}

/**
 * Each `first` taken opens a window to its time + `within`. It fires at the first clock reading
 * at or past deadline + allowed lateness that follows its evaluation, unless a `then` of its key
 * (another event, taken, evaluated before that reading, before or after the `first`) has a time in
 * [first, deadline].
 */
function absenceReference(spec: Extract<ConditionSpec, { kind: 'absence' }>, events: readonly ReferenceEvent[], advances: readonly ReferenceAdvance[], options: ReferenceOptions): ReferenceResult {
  const all = taken(events, (event) => matches(spec.first, event) || matches(spec.then, event), spec.per, options.allowedLatenessMs);
  const thens = new Map<string, ReferenceEvent[]>();
  for (const { event, key, late } of all) {
    if (late || !matches(spec.then, event)) continue;
    const list = thens.get(key);
    if (list === undefined) thens.set(key, [event]);
    else list.push(event);
  }
  const firings: ReferenceFiring[] = [];
  for (const { event: first, key, late } of all) {
    if (late || !matches(spec.first, first)) continue;
    const deadline = first.time + spec.withinMs;
    const closing = advances.find((advance) => advance.afterPosition >= first.position && advance.now >= deadline + options.allowedLatenessMs);
    if (closing === undefined) continue;
    const followed = (thens.get(key) ?? []).some(
      (then) => then !== first && then.position <= closing.afterPosition && then.time >= first.time && then.time <= deadline,
    );
    if (!followed) firings.push({ occurrenceKey: `absence:${key}:${first.eventId}`, matched: [first.eventId] });
  }
  return { firings, lateEvents: all.filter((t) => t.late).length };
}

// --- schedule and state ----------------------------------------------------------------------

/**
 * At each clock reading: the ticks after the last one fired that are more than the tolerance
 * behind the reading were missed — only the most recent of them fires (late); then every tick up
 * to the reading fires on time.
 */
function scheduleReference(spec: Extract<ConditionSpec, { kind: 'schedule' }>, advances: readonly ReferenceAdvance[], options: ReferenceOptions): ReferenceResult {
  const horizon = Math.max(options.since, ...advances.map((advance) => advance.now));
  const ticks: number[] = [];
  const expression = CronExpressionParser.parse(spec.cron, { tz: spec.timezone ?? 'UTC', currentDate: new Date(options.since) });
  for (let tick = expression.next().getTime(); tick <= horizon; tick = expression.next().getTime()) ticks.push(tick);
  const firings: ReferenceFiring[] = [];
  const fire = (tick: number) => firings.push({ occurrenceKey: `schedule:${new Date(tick).toISOString()}`, matched: [] });
  let last = options.since;
  for (const { now } of advances) {
    const missed = ticks.filter((tick) => tick > last && now - tick > options.lateToleranceMs);
    if (missed.length > 0) {
      last = missed[missed.length - 1] as number;
      fire(last);
    }
    for (const tick of ticks.filter((t) => t > last && t <= now)) {
      fire(tick);
      last = tick;
    }
  }
  return { firings, lateEvents: 0 };
}

/**
 * Each subject's state is every field its events carried, latest value first (store order, times
 * do not matter). After each event of a subject of the type: it fires when the predicate holds
 * and did not hold after the subject's previous event (or there was none).
 */
function stateReference(spec: Extract<ConditionSpec, { kind: 'state' }>, events: readonly ReferenceEvent[]): ReferenceResult {
  const folded = new Map<string, Record<string, unknown>>();
  const holding = new Set<string>();
  const firings: ReferenceFiring[] = [];
  for (const event of events) {
    if (event.subject === null) continue;
    const state = { ...(folded.get(event.subject) ?? {}), ...event.data };
    folded.set(event.subject, state);
    if (!subjectOfType(event.subject, spec.subjectType)) continue;
    const holds = fieldHolds(spec.test, state);
    if (holds && !holding.has(event.subject)) firings.push({ occurrenceKey: `state:${event.subject}:${event.eventId}`, matched: [event.eventId] });
    if (holds) holding.add(event.subject);
    else holding.delete(event.subject);
  }
  return { firings, lateEvents: 0 };
}

/** The firings `trigger` must have recorded over `events` (store order) and the clock readings `advances`. */
export function referenceFirings(trigger: TriggerSpec, events: readonly ReferenceEvent[], advances: readonly ReferenceAdvance[], options: ReferenceOptions): ReferenceResult {
  const spec = trigger.condition;
  switch (spec.kind) {
    case 'event':
      return eventReference(spec, events, options);
    case 'threshold':
      return thresholdReference(spec, events, options);
    case 'sequence':
      return sequenceReference(spec, events, options);
    case 'absence':
      return absenceReference(spec, events, advances, options);
    case 'schedule':
      return scheduleReference(spec, advances, options);
    case 'state':
      return stateReference(spec, events);
  }
}
