import type { ConditionEvaluator, ConditionFiring, MatchedEvent, TriggerEvent } from './condition-evaluator';

/** Test support for the event-driven condition evaluators: events at chosen times, and workloads. */

export const T0 = Date.parse('2026-03-01T12:00:00.000Z');
export const seconds = (value: number) => value * 1_000;
export const minutes = (value: number) => value * 60_000;

let lastPosition = 0;

export interface EventSpec {
  readonly type: string;
  readonly subject?: string | null;
  /** Epoch ms. */
  readonly at: number;
  readonly data?: unknown;
  readonly position?: number;
}

/** An ingested event as the engine feeds it; positions increase in the order events are made. */
export function triggerEvent(spec: EventSpec): TriggerEvent {
  lastPosition = spec.position ?? lastPosition + 1;
  const position = lastPosition;
  return {
    eventId: `evt-${position}`,
    position,
    eventTime: spec.at,
    view: {
      type: spec.type,
      subject: spec.subject === undefined ? 'order-1' : spec.subject,
      source: 'shop',
      id: `ce-${position}`,
      time: new Date(spec.at).toISOString(),
      data: spec.data ?? null,
      extensions: {},
    },
  };
}

export type Step = { readonly event: TriggerEvent } | { readonly now: number };

export interface Run<S> {
  readonly state: S;
  readonly firings: readonly ConditionFiring[];
  readonly late: readonly MatchedEvent[];
}

/** What a stored state reads back as. */
export const roundTrip = <S>(state: S): S => JSON.parse(JSON.stringify(state)) as S;

/**
 * Feeds the steps in order from `state` (the initial state by default). With `restartAt`, the
 * state is stored and read back before each of those step indexes, as a restart would.
 */
export function run<S>(evaluator: ConditionEvaluator<S>, steps: readonly Step[], options: { readonly state?: S; readonly restartAt?: readonly number[] } = {}): Run<S> {
  let state = options.state ?? evaluator.initialState();
  const restarts = new Set(options.restartAt ?? []);
  const firings: ConditionFiring[] = [];
  const late: MatchedEvent[] = [];
  steps.forEach((step, index) => {
    if (restarts.has(index)) state = roundTrip(state);
    const result = 'event' in step ? evaluator.onEvent(state, step.event) : evaluator.onTime(state, step.now);
    state = result.state;
    firings.push(...result.firings);
    late.push(...result.late);
  });
  return { state, firings, late };
}

export const events = (...specs: readonly EventSpec[]): Step[] => specs.map((spec) => ({ event: triggerEvent(spec) }));

export const keysOf = (firings: readonly ConditionFiring[]) => firings.map((firing) => firing.occurrenceKey);

export const idsOf = (matched: readonly MatchedEvent[]) => matched.map((event) => event.eventId);

/** A small seeded generator (mulberry32), so a failing random case can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let value = seed >>> 0;
  return () => {
    value = (value + 0x6d2b79f5) >>> 0;
    let mixed = value;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface WorkloadOptions {
  readonly types: readonly string[];
  readonly subjects: readonly string[];
  readonly length: number;
  /** Largest gap between consecutive event times, ms (gaps of 0 give events at the same time). */
  readonly maxGapMs: number;
  /** Share of events whose time is moved back by up to `maxDisorderMs` (0 keeps them in order). */
  readonly disorder?: number;
  readonly maxDisorderMs?: number;
}

/** Random events: types, subjects and `data.n` in 0–4 drawn at random, times moving forward. */
export function randomEvents(random: () => number, options: WorkloadOptions): TriggerEvent[] {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  let clock = T0;
  const result: TriggerEvent[] = [];
  for (let index = 0; index < options.length; index += 1) {
    clock += Math.floor(random() * (options.maxGapMs + 1));
    const disordered = random() < (options.disorder ?? 0);
    const at = disordered ? clock - Math.floor(random() * ((options.maxDisorderMs ?? 0) + 1)) : clock;
    result.push(triggerEvent({ type: pick(options.types), subject: pick(options.subjects), at, data: { n: Math.floor(random() * 5) } }));
  }
  return result;
}

/** `data.n` of an event made by `randomEvents`. */
export const nOf = (event: TriggerEvent) => (event.view.data as { readonly n: number }).n;
