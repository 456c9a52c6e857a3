import type { TriggerConditionInput, TriggerEventMatch, TriggerJsonLogic, TriggerScope } from '@meridian/domain';

/**
 * Trigger benchmark workloads. Conditions are written once in a small spec language that says
 * both what the engine is given (JSON Logic filters, ISO durations) and what the reference
 * evaluator checks natively, so the two never read each other's code.
 */

/** Mulberry32: a small seeded PRNG, the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomInt = (random: () => number, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
export const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** One comparison on a field, by dotted path (`data.amount` on an event, `level` on an entity state). */
export interface FieldTest {
  readonly path: string;
  readonly op: '>=' | '>' | '<' | '==' | 'in';
  readonly value: number | string | readonly string[];
}

export interface MatchSpec {
  /** Exact type or a prefix ending in `*`. */
  readonly type: string;
  readonly where?: FieldTest;
}

export type ConditionSpec =
  | { readonly kind: 'event'; readonly match: MatchSpec }
  | { readonly kind: 'threshold'; readonly match: MatchSpec; readonly count: number; readonly withinMs: number; readonly per: TriggerScope }
  | { readonly kind: 'sequence'; readonly steps: readonly MatchSpec[]; readonly withinMs: number; readonly per: TriggerScope }
  | { readonly kind: 'absence'; readonly first: MatchSpec; readonly then: MatchSpec; readonly withinMs: number; readonly per: TriggerScope }
  | { readonly kind: 'schedule'; readonly cron: string; readonly timezone?: string }
  | { readonly kind: 'state'; readonly subjectType?: string; readonly test: FieldTest };

export interface TriggerSpec {
  readonly id: string;
  readonly condition: ConditionSpec;
}

/** Whole seconds as an ISO-8601 duration (`PT90S` is valid ISO and what the parser reads). */
export function isoSeconds(ms: number): string {
  if (ms % 1000 !== 0) throw new Error(`durations in the workload are whole seconds, got ${ms} ms`);
  return `PT${ms / 1000}S`;
}

export function fieldTestLogic(test: FieldTest): TriggerJsonLogic {
  return { [test.op]: [{ var: test.path }, test.value] };
}

function matchOf(spec: MatchSpec): TriggerEventMatch {
  return spec.where === undefined ? { type: spec.type } : { type: spec.type, filter: fieldTestLogic(spec.where) };
}

export function conditionInput(spec: ConditionSpec): TriggerConditionInput {
  switch (spec.kind) {
    case 'event':
      return { kind: 'event', match: matchOf(spec.match) };
    case 'threshold':
      return { kind: 'threshold', match: matchOf(spec.match), count: spec.count, within: isoSeconds(spec.withinMs), per: spec.per };
    case 'sequence':
      return { kind: 'sequence', steps: spec.steps.map(matchOf), within: isoSeconds(spec.withinMs), per: spec.per };
    case 'absence':
      return { kind: 'absence', first: matchOf(spec.first), then: matchOf(spec.then), within: isoSeconds(spec.withinMs), per: spec.per };
    case 'schedule':
      return spec.timezone === undefined ? { kind: 'schedule', cron: spec.cron } : { kind: 'schedule', cron: spec.cron, timezone: spec.timezone };
    case 'state':
      return spec.subjectType === undefined
        ? { kind: 'state', predicate: fieldTestLogic(spec.test) }
        : { kind: 'state', subjectType: spec.subjectType, predicate: fieldTestLogic(spec.test) };
  }
}

// ---------------------------------------------------------------------------------------------
// Accuracy workload: a shop over half an hour, six kinds of conditions, events a few per second.
// ---------------------------------------------------------------------------------------------

const SECOND = 1000;

/**
 * Absence windows are at least 30 s: no event is more than 25 s behind the clock, so no window an
 * event opens can be due before that event's batch is evaluated, and which clock reading closes a
 * window never depends on how a batch and a tick interleave.
 */
export const ACCURACY_TRIGGERS: readonly TriggerSpec[] = [
  { id: 'event-order-placed', condition: { kind: 'event', match: { type: 'order.placed' } } },
  { id: 'event-big-payment', condition: { kind: 'event', match: { type: 'payment.*', where: { path: 'data.amount', op: '>=', value: 500 } } } },
  { id: 'event-eu-shipped', condition: { kind: 'event', match: { type: 'order.shipped', where: { path: 'data.region', op: '==', value: 'eu' } } } },
  { id: 'event-refund', condition: { kind: 'event', match: { type: 'refund.*' } } },

  { id: 'threshold-failed-3-per-order', condition: { kind: 'threshold', match: { type: 'payment.failed' }, count: 3, withinMs: 30 * SECOND, per: 'subject' } },
  { id: 'threshold-failed-5-global', condition: { kind: 'threshold', match: { type: 'payment.failed' }, count: 5, withinMs: 20 * SECOND, per: 'global' } },
  {
    id: 'threshold-logins-eu-us',
    condition: { kind: 'threshold', match: { type: 'user.login', where: { path: 'data.region', op: 'in', value: ['eu', 'us'] } }, count: 2, withinMs: 10 * SECOND, per: 'subject' },
  },
  { id: 'threshold-order-busy', condition: { kind: 'threshold', match: { type: 'order.*' }, count: 4, withinMs: 15 * SECOND, per: 'subject' } },
  {
    id: 'threshold-huge-capture',
    condition: { kind: 'threshold', match: { type: 'payment.captured', where: { path: 'data.amount', op: '>=', value: 900 } }, count: 1, withinMs: 60 * SECOND, per: 'global' },
  },
  { id: 'threshold-refunds-global', condition: { kind: 'threshold', match: { type: 'refund.requested' }, count: 3, withinMs: 30 * SECOND, per: 'global' } },

  {
    id: 'sequence-order-lifecycle',
    condition: { kind: 'sequence', steps: [{ type: 'order.placed' }, { type: 'order.paid' }, { type: 'order.shipped' }], withinMs: 120 * SECOND, per: 'subject' },
  },
  { id: 'sequence-login-then-failure', condition: { kind: 'sequence', steps: [{ type: 'user.login' }, { type: 'payment.failed' }], withinMs: 20 * SECOND, per: 'global' } },
  { id: 'sequence-double-failure', condition: { kind: 'sequence', steps: [{ type: 'payment.failed' }, { type: 'payment.failed' }], withinMs: 5 * SECOND, per: 'global' } },
  { id: 'sequence-order-cancelled', condition: { kind: 'sequence', steps: [{ type: 'order.*' }, { type: 'order.cancelled' }], withinMs: 60 * SECOND, per: 'subject' } },
  {
    id: 'sequence-big-order-payment-failed',
    condition: {
      kind: 'sequence',
      steps: [{ type: 'order.placed', where: { path: 'data.amount', op: '>=', value: 500 } }, { type: 'payment.failed' }],
      withinMs: 90 * SECOND,
      per: 'subject',
    },
  },

  { id: 'absence-unshipped', condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, withinMs: 60 * SECOND, per: 'subject' } },
  {
    id: 'absence-paid-unshipped',
    condition: {
      kind: 'absence',
      first: { type: 'order.paid', where: { path: 'data.amount', op: '>=', value: 300 } },
      then: { type: 'order.shipped' },
      withinMs: 45 * SECOND,
      per: 'subject',
    },
  },
  { id: 'absence-login-no-logout-global', condition: { kind: 'absence', first: { type: 'user.login' }, then: { type: 'user.logout' }, withinMs: 30 * SECOND, per: 'global' } },
  { id: 'absence-login-no-logout', condition: { kind: 'absence', first: { type: 'user.login' }, then: { type: 'user.logout' }, withinMs: 40 * SECOND, per: 'subject' } },
  { id: 'absence-order-quiet', condition: { kind: 'absence', first: { type: 'order.*' }, then: { type: 'order.*' }, withinMs: 30 * SECOND, per: 'subject' } },
  {
    id: 'absence-refund-unapproved',
    condition: { kind: 'absence', first: { type: 'refund.requested' }, then: { type: 'refund.approved' }, withinMs: 30 * SECOND, per: 'subject' },
  },

  { id: 'schedule-every-minute', condition: { kind: 'schedule', cron: '* * * * *', timezone: 'UTC' } },
  { id: 'schedule-5-min-berlin', condition: { kind: 'schedule', cron: '*/5 * * * *', timezone: 'Europe/Berlin' } },
  { id: 'schedule-half-hours-kolkata', condition: { kind: 'schedule', cron: '0,30 * * * *', timezone: 'Asia/Kolkata' } },
  { id: 'schedule-every-15-s', condition: { kind: 'schedule', cron: '*/15 * * * * *' } },
  { id: 'schedule-2-min-new-york', condition: { kind: 'schedule', cron: '*/2 * * * *', timezone: 'America/New_York' } },

  { id: 'state-low-stock', condition: { kind: 'state', subjectType: 'inventory', test: { path: 'level', op: '<', value: 10 } } },
  { id: 'state-high-reservations', condition: { kind: 'state', subjectType: 'inventory', test: { path: 'reserved', op: '>', value: 40 } } },
  { id: 'state-big-order', condition: { kind: 'state', subjectType: 'order', test: { path: 'amount', op: '>=', value: 900 } } },
  { id: 'state-user-blocked', condition: { kind: 'state', test: { path: 'status', op: '==', value: 'blocked' } } },
];

/** A CloudEvent as the accuracy workload sends it (ingested through the ingestion service). */
export interface AccuracyCloudEvent {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  readonly data: Record<string, unknown>;
}

export type EventTiming = 'in-order' | 'out-of-order' | 'beyond-lateness' | 'slow-producer';

export interface AccuracyWorkloadOptions {
  readonly seed: number;
  readonly startMs: number;
  readonly stepMs: number;
  readonly allowedLatenessMs: number;
}

const REGIONS = ['eu', 'us', 'apac'] as const;
const ORDERS = Array.from({ length: 20 }, (_, i) => `order-${i}`);
/** Subjects that start like `order` but are not of subject type `order`. */
const ORDER_LINES = Array.from({ length: 4 }, (_, i) => `orderline-${i}`);
const USERS = Array.from({ length: 10 }, (_, i) => `user-${i}`);
const INVENTORY = Array.from({ length: 8 }, (_, i) => `inventory-${i}`);
const DEVICES = Array.from({ length: 10 }, (_, i) => `device-${i}`);

interface TypeWeight {
  readonly type: string;
  readonly weight: number;
  readonly subjects: readonly string[];
  readonly data: (random: () => number) => Record<string, unknown>;
}

const orderData = (random: () => number) => ({ amount: randomInt(random, 0, 999), region: pick(random, REGIONS) });
const userData = (random: () => number) => ({ region: pick(random, REGIONS) });

const TYPE_WEIGHTS: readonly TypeWeight[] = [
  { type: 'order.placed', weight: 10, subjects: ORDERS, data: orderData },
  { type: 'order.paid', weight: 8, subjects: ORDERS, data: orderData },
  { type: 'order.shipped', weight: 7, subjects: ORDERS, data: orderData },
  { type: 'order.cancelled', weight: 2, subjects: ORDERS, data: orderData },
  { type: 'order.updated', weight: 4, subjects: [...ORDERS, ...ORDER_LINES], data: orderData },
  { type: 'payment.failed', weight: 10, subjects: ORDERS, data: orderData },
  { type: 'payment.captured', weight: 6, subjects: ORDERS, data: orderData },
  { type: 'user.login', weight: 8, subjects: USERS, data: userData },
  { type: 'user.logout', weight: 6, subjects: USERS, data: userData },
  { type: 'user.status-changed', weight: 3, subjects: USERS, data: (random) => ({ status: random() < 0.4 ? 'blocked' : 'active' }) },
  { type: 'inventory.counted', weight: 6, subjects: INVENTORY, data: (random) => ({ level: randomInt(random, 0, 60) }) },
  { type: 'inventory.reserved', weight: 4, subjects: INVENTORY, data: (random) => ({ reserved: randomInt(random, 0, 60) }) },
  { type: 'device.heartbeat', weight: 16, subjects: DEVICES, data: (random) => ({ battery: randomInt(random, 0, 100) }) },
  { type: 'refund.requested', weight: 3, subjects: ORDERS, data: orderData },
  { type: 'refund.approved', weight: 2, subjects: ORDERS, data: orderData },
];

/**
 * Refunds come from a slow upstream: 8–12 s behind the clock, so beyond the allowed lateness by
 * the clock, but never more than 4 s apart from each other. Triggers that watch only refunds
 * must judge lateness by the refunds they saw, not by the clock or by other triggers' events.
 */
const SLOW_PRODUCER_TYPES: ReadonlySet<string> = new Set(['refund.requested', 'refund.approved']);
const TOTAL_WEIGHT = TYPE_WEIGHTS.reduce((sum, t) => sum + t.weight, 0);

function pickType(random: () => number): TypeWeight {
  let roll = random() * TOTAL_WEIGHT;
  for (const type of TYPE_WEIGHTS) {
    roll -= type.weight;
    if (roll < 0) return type;
  }
  return TYPE_WEIGHTS[TYPE_WEIGHTS.length - 1] as TypeWeight;
}

/**
 * The events of each step of the accuracy run. Step `i` covers event times (T(i-1), T(i)], where
 * T(i) = start + i·step, and is ingested before the clock moves to T(i):
 * - in order (~82 %): a time inside the step;
 * - out of order (~15 %): up to the allowed lateness minus 0.5 s behind T(i), so behind events
 *   already sent but never beyond the allowed lateness (the newest time any trigger has seen is
 *   at most T(i));
 * - beyond the lateness (~3 %): 0.5–20 s further back than the allowed lateness: late for every
 *   trigger that has seen a recent event, evaluated by one that has not (the reference decides).
 * - refunds: from a slow producer (see SLOW_PRODUCER_TYPES).
 * Now and then a burst of payment failures on one order, so thresholds have something to find.
 */
export class AccuracyWorkload {
  private readonly random: () => number;
  private seq = 0;
  readonly timings = new Map<string, EventTiming>();

  constructor(private readonly options: AccuracyWorkloadOptions) {
    this.random = seededRandom(options.seed);
  }

  stepTime(step: number): number {
    return this.options.startMs + step * this.options.stepMs;
  }

  /** Step 0: every inventory item counted and every user active, so states start from known fields. */
  initialEvents(): AccuracyCloudEvent[] {
    const time = this.options.startMs;
    return [
      ...INVENTORY.map((subject) => this.event('inventory.counted', subject, time, { level: 50, reserved: 0 }, 'in-order')),
      ...USERS.map((subject) => this.event('user.status-changed', subject, time, { status: 'active', region: 'eu' }, 'in-order')),
    ];
  }

  eventsOfStep(step: number): AccuracyCloudEvent[] {
    const random = this.random;
    const end = this.stepTime(step);
    const start = end - this.options.stepMs;
    const lateness = this.options.allowedLatenessMs;
    const events: AccuracyCloudEvent[] = [];
    const count = randomInt(random, 0, 12);
    for (let i = 0; i < count; i += 1) {
      const type = pickType(random);
      const subject = pick(random, type.subjects);
      const roll = random();
      let time: number;
      let timing: EventTiming;
      if (SLOW_PRODUCER_TYPES.has(type.type)) {
        time = end - randomInt(random, 8000, 12_000);
        timing = 'slow-producer';
      } else if (roll < 0.03) {
        time = end - lateness - randomInt(random, 500, 20_000);
        timing = 'beyond-lateness';
      } else if (roll < 0.18) {
        time = end - randomInt(random, 0, lateness - 500);
        timing = 'out-of-order';
      } else {
        time = start + randomInt(random, 1, this.options.stepMs);
        timing = 'in-order';
      }
      events.push(this.event(type.type, subject, time, type.data(random), timing));
    }
    if (random() < 1 / 45) {
      const order = pick(random, ORDERS);
      const size = randomInt(random, 3, 9);
      for (let i = 0; i < size; i += 1) {
        events.push(this.event('payment.failed', order, start + randomInt(random, 1, this.options.stepMs), orderData(random), 'in-order'));
      }
    }
    return events;
  }

  private event(type: string, subject: string, time: number, data: Record<string, unknown>, timing: EventTiming): AccuracyCloudEvent {
    this.seq += 1;
    const id = `acc-${this.seq}`;
    this.timings.set(id, timing);
    return { id, type, subject, time: new Date(time).toISOString(), data };
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput workload: 200 event types, 10,000 subjects, triggers of every kind.
// ---------------------------------------------------------------------------------------------

export const DOMAINS = [
  'order', 'payment', 'invoice', 'shipment', 'user', 'session', 'inventory', 'product', 'cart', 'refund',
  'ticket', 'alert', 'device', 'sensor', 'account', 'subscription', 'review', 'campaign', 'email', 'job',
] as const;
export const VERBS = ['created', 'updated', 'deleted', 'completed', 'failed', 'started', 'cancelled', 'approved', 'rejected', 'viewed'] as const;
export const EVENT_TYPES: readonly string[] = DOMAINS.flatMap((domain) => VERBS.map((verb) => `${domain}.${verb}`));
export const SUBJECTS_PER_DOMAIN = 500;

/** Zipf-like popularity (exponent 0.8) over the 200 types: a few are common, most are rare. */
export class TypePopularity {
  private readonly cumulative: number[] = [];

  constructor(random: () => number) {
    const order = [...EVENT_TYPES.keys()];
    // A seeded shuffle, so popularity does not follow the alphabet.
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const weights = new Array<number>(EVENT_TYPES.length).fill(0);
    order.forEach((typeIndex, rank) => (weights[typeIndex] = 1 / (rank + 1) ** 0.8));
    let total = 0;
    for (const weight of weights) this.cumulative.push((total += weight));
    for (let i = 0; i < this.cumulative.length; i += 1) this.cumulative[i] = (this.cumulative[i] as number) / total;
  }

  sample(random: () => number): string {
    const roll = random();
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.cumulative[middle] as number) < roll) low = middle + 1;
      else high = middle;
    }
    return EVENT_TYPES[low] as string;
  }
}

const CRONS: readonly { cron: string; timezone?: string }[] = [
  { cron: '* * * * *' },
  { cron: '*/5 * * * *', timezone: 'Europe/Berlin' },
  { cron: '0 * * * *', timezone: 'America/New_York' },
  { cron: '*/30 * * * * *' },
  { cron: '15,45 * * * *', timezone: 'Asia/Kolkata' },
];

const minutes = (random: () => number, min: number, max: number) => randomInt(random, min, max) * 60 * SECOND;

/**
 * `count` triggers, the same list for the same seed (so 100 triggers are the first 100 of the
 * 1,000). Mix: 30 % event, 25 % threshold, 15 % sequence, 15 % absence, 8 % state, 7 % schedule.
 * Most watch one to three specific types (half of them chosen by popularity, half uniformly);
 * one in thirty watches a whole domain (`order.*`); about half have a filter; one in five counts
 * across all subjects.
 */
export function throughputTriggers(count: number, seed: number): TriggerSpec[] {
  const random = seededRandom(seed);
  const popularity = new TypePopularity(seededRandom(seed + 1));
  const typeFor = (): string => (random() < 0.5 ? popularity.sample(random) : pick(random, EVENT_TYPES));
  const matchFor = (type: string): MatchSpec => {
    const roll = random();
    if (roll < 0.3) return { type, where: { path: 'data.amount', op: '>=', value: randomInt(random, 100, 900) } };
    if (roll < 0.5) return { type, where: { path: 'data.region', op: '==', value: pick(random, ['eu', 'us', 'apac']) } };
    return { type };
  };
  const sameDomain = (type: string): string => `${type.split('.')[0]}.${pick(random, VERBS)}`;
  const per = (): 'subject' | 'global' => (random() < 0.8 ? 'subject' : 'global');
  const triggers: TriggerSpec[] = [];
  for (let index = 0; index < count; index += 1) {
    const roll = random();
    const id = `tp-${index}`;
    let condition: ConditionSpec;
    if (roll < 0.3) {
      const type = random() < 1 / 30 ? `${pick(random, DOMAINS)}.*` : typeFor();
      condition = { kind: 'event', match: matchFor(type) };
    } else if (roll < 0.55) {
      condition = { kind: 'threshold', match: matchFor(typeFor()), count: randomInt(random, 2, 20), withinMs: minutes(random, 1, 10), per: per() };
    } else if (roll < 0.7) {
      const first = typeFor();
      const steps = [matchFor(first), matchFor(sameDomain(first))];
      if (random() < 0.3) steps.push(matchFor(sameDomain(first)));
      condition = { kind: 'sequence', steps, withinMs: minutes(random, 1, 30), per: per() };
    } else if (roll < 0.85) {
      const first = typeFor();
      condition = { kind: 'absence', first: matchFor(first), then: { type: sameDomain(first) }, withinMs: minutes(random, 1, 15), per: per() };
    } else if (roll < 0.93) {
      const test: FieldTest =
        random() < 0.5 ? { path: 'amount', op: '>=', value: randomInt(random, 800, 990) } : { path: 'region', op: '==', value: pick(random, ['eu', 'us', 'apac']) };
      condition = { kind: 'state', subjectType: pick(random, DOMAINS), test };
    } else {
      condition = { kind: 'schedule', ...pick(random, CRONS) };
    }
    triggers.push({ id, condition });
  }
  return triggers;
}

export interface ThroughputEventShape {
  readonly seq: number;
  readonly type: string;
  readonly subject: string;
  /** Event time, epoch ms. */
  readonly time: number;
  readonly data: Record<string, unknown>;
}

/**
 * The `seq`-th..: events 10 ms apart in event time (100 a second), 10 % up to 4 s out of order,
 * 0.2 % beyond the allowed lateness (late for most triggers that watch their type).
 */
export class ThroughputEvents {
  private readonly random: () => number;
  private readonly popularity: TypePopularity;
  private seq = 0;

  constructor(
    seed: number,
    private readonly startMs: number,
    private readonly allowedLatenessMs: number,
  ) {
    this.random = seededRandom(seed + 2);
    this.popularity = new TypePopularity(seededRandom(seed + 1));
  }

  /** Event time of the newest in-order event so far: what a clock following the events reads. */
  get clock(): number {
    return this.startMs + this.seq * 10;
  }

  next(): ThroughputEventShape {
    const random = this.random;
    this.seq += 1;
    const type = this.popularity.sample(random);
    const domain = type.split('.')[0] as string;
    const roll = random();
    let time = this.clock;
    if (roll < 0.002) time -= this.allowedLatenessMs + randomInt(random, 1000, 60_000);
    else if (roll < 0.102) time -= randomInt(random, 0, 4000);
    return {
      seq: this.seq,
      type,
      subject: `${domain}-${randomInt(random, 0, SUBJECTS_PER_DOMAIN - 1)}`,
      time,
      data: { amount: randomInt(random, 0, 999), region: pick(random, ['eu', 'us', 'apac']) },
    };
  }
}
