import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import {
  ConcurrencyConflictError,
  DomainError,
  streamName,
  triggerDecider,
  type Actor,
  type AppendRequest,
  type EventMetadata,
  type EventStore,
  type FireTrigger,
  type GlobalPosition,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
  type TriggerEvent as TriggerAggregateEvent,
  type TriggerFired,
  type TriggerState,
} from '@meridian/domain';
import { EntityStateReader } from '../runtime/entity-state-reader';
import { SILENT_RUNTIME_LOGGER, type RuntimeLogger } from '../runtime/runtime-logger.port';
import { TRIGGER_LIFECYCLE_TYPES, TriggerSet, type DecidedFiring, type WatchedTrigger } from './trigger-set';
import type { StoredTriggerEvaluation, TriggerEvaluationStats, TriggerStateStore } from './trigger-state-store.port';

/** Namespace of firing ids: uuid v5 of (tenant, trigger, occurrence key). */
const FIRING_NAMESPACE = '6b0c1f3e-8d2a-5e47-9a61-2c3d4e5f6a7b';

export const TRIGGER_ENGINE_ACTOR: Actor = { kind: 'system', id: 'trigger-engine' };
export const DEFAULT_TRIGGER_ENGINE_NAME = 'trigger-engine';

/** The id of the firing of `occurrenceKey` (and of its `trigger.fired` event): the same occurrence, the same id. */
export function triggerFiringId(tenantId: string, triggerId: string, occurrenceKey: string): string {
  return uuidv5(`${tenantId}\n${triggerId}\n${occurrenceKey}`, FIRING_NAMESPACE);
}

/** Occurrence keys the trigger aggregate takes (it refuses longer ones). */
const MAX_KEY_LENGTH = 512;

/**
 * The key a firing is recorded under: the evaluator's, or — when a producer's long subject makes
 * it too long for the aggregate — its start and a hash of the whole, still one key per occurrence.
 */
export function recordedOccurrenceKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${key.slice(0, 400)}…#${createHash('sha256').update(key).digest('hex')}`;
}

/** Counters the engine reports (Prometheus in the apps), per trigger. */
export type TriggerCounter = 'evaluations' | 'firings' | 'suppressed' | 'lateEvents' | 'lateFirings' | 'refused';

export interface TriggerEngineObserver {
  counted(trigger: { readonly tenantId: string; readonly triggerId: string }, counter: TriggerCounter, amount: number): void;
}

export interface TriggerEngineOptions {
  readonly store: EventStore;
  readonly states: TriggerStateStore;
  /** Epoch ms: the engine's only source of "now" (tests inject their own). */
  readonly clock: () => number;
  /** How late an event may be (behind the newest event time a trigger has seen) and still count. */
  readonly allowedLatenessMs: number;
  /**
   * How far past its closing a deadline may be decided and still be on time. Default: two ticks,
   * at least 2 s (a tick's jitter must not make a firing late).
   */
  readonly lateToleranceMs?: number;
  /** How often the clock is read to close windows and fire schedules; 0 = only on `tick()`. Default 1000. */
  readonly tickMs?: number;
  /** Trigger aggregates kept in memory (each holds every occurrence key it fired). Default 1000. */
  readonly cachedAggregates?: number;
  /** The most hops a firing may be from its chain's origin (a trigger whose action feeds itself stops there). */
  readonly maxHops: number;
  /** Minimum time between two commits of states and checkpoint (longer when commits are slow: four times the last one); 0 commits after every step. Default 200 ms. */
  readonly commitIntervalMs?: number;
  readonly name?: string;
  readonly batchSize?: number;
  readonly logger?: RuntimeLogger;
  readonly observer?: TriggerEngineObserver;
}

interface CachedAggregate {
  state: TriggerState;
  revision: number;
}

/** Store reads on start, page by page. */
const PAGE_SIZE = 1000;
const MAX_APPEND_ATTEMPTS = 5;
const COUNTERS: readonly TriggerCounter[] = ['evaluations', 'firings', 'suppressed', 'lateEvents', 'lateFirings', 'refused'];
/** Clock readings waiting for their events; more are merged (only time's granularity is lost). */
const MAX_PENDING_TICKS = 64;

/**
 * The proactive engine: a durable process manager over one checkpointed subscription.
 *
 * - Trigger lifecycle and ingested domain events arrive in store order; the `TriggerSet` applies
 *   the former and evaluates the latter. Time (`tick`, every `tickMs` from the injected clock)
 *   closes windows and fires schedules — only once every stored event has been fed, so a window
 *   never closes ahead of an event already in the store.
 * - A firing is recorded through the trigger aggregate (`FireTrigger`): its event id is derived
 *   from (trigger, occurrence key), and the aggregate refuses a second firing of the same key, so
 *   replaying after a crash records nothing twice. A refusal for cooldown counts as `suppressed`;
 *   one because the trigger was disabled or deleted meanwhile, or because the chain is out of hops,
 *   as `refused`. A firing is recorded with the trigger as it is then (disabled or deleted meanwhile:
 *   refused; the action in force is the one that runs).
 * - `firings` and `lateFirings` count the `trigger.fired` events as the subscription delivers them,
 *   so they say exactly what was recorded, however often a crash made the engine decide again.
 *   Counters are committed with the states, and reported to the observer once committed.
 * - Firings are recorded before the states and checkpoint that move past them are committed (one
 *   transaction in the `TriggerStateStore`). A crash in between replays the events since the
 *   checkpoint from the committed states: the same firings are decided again and are no-ops.
 * - A firing joins the chain of the event that completed it (hop + 1); an absence, the chain of
 *   the event that opened its window; a schedule starts a chain of its own.
 */
export class TriggerEngine {
  private set: TriggerSet;
  private readonly name: string;
  private readonly logger: RuntimeLogger;
  private readonly entities: EntityStateReader;
  private readonly aggregates = new Map<string, CachedAggregate>();
  private readonly reported = new Map<string, TriggerEvaluationStats>();
  private subscription: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Everything the engine does runs one step at a time, in this chain. */
  private queue: Promise<void> = Promise.resolve();
  private processed: GlobalPosition = 0;
  private committed: GlobalPosition = 0;
  private lastCommitAt = 0;
  /** How long the last commit took (ms). */
  private lastCommitMs = 0;
  private stopped = false;
  /** A step failed: nothing more is evaluated or committed until `recover` starts again from the commit. */
  private broken = false;
  private failures = 0;
  private recovery: NodeJS.Timeout | null = null;
  /** Clock readings, oldest first, each waiting for the events stored before it to be evaluated. */
  private dues: { readonly head: GlobalPosition; readonly now: number }[] = [];

  constructor(private readonly options: TriggerEngineOptions) {
    this.set = this.newSet();
    this.name = options.name ?? DEFAULT_TRIGGER_ENGINE_NAME;
    this.logger = options.logger ?? SILENT_RUNTIME_LOGGER;
    this.entities = new EntityStateReader(options.store);
  }

  /** Global position up to which every event has been evaluated and its firings recorded. */
  get position(): GlobalPosition {
    return this.processed;
  }

  /** The triggers being watched (for tests and diagnostics). */
  get triggers(): TriggerSet {
    return this.set;
  }

  start(): Promise<void> {
    this.running ??= this.doStart().catch((error: unknown) => {
      this.running = null;
      throw error;
    });
    return this.running;
  }

  /** Stops the subscription and the clock, then commits what was evaluated. */
  async stop(): Promise<void> {
    if (this.running === null) return;
    await this.running.catch(() => undefined);
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.recovery !== null) clearTimeout(this.recovery);
    this.recovery = null;
    // Work already queued (a batch, a tick, a recovery's resume) finishes first; none starts after.
    await this.serial(async () => undefined);
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription !== null) await subscription.stop();
    await this.serial(() => this.commit(true));
    this.running = null;
  }

  /**
   * Reads the clock and fires what is due by then — once every event stored before the clock was
   * read has been evaluated (at once when caught up, else right after the batch that gets there),
   * so a window never closes ahead of an event that was already in the store.
   */
  async tick(): Promise<void> {
    if (this.stopped || this.running === null) return;
    // The clock first: an event stored after this reading has an arrival time after it, so
    // waiting for the head read next covers every event that arrived by `now`.
    const now = this.options.clock();
    const head = await this.options.store.headPosition();
    this.dues.push({ head, now });
    if (this.dues.length > MAX_PENDING_TICKS) this.dues.splice(1, 1);
    await this.serial(() => this.advanceIfDue());
  }

  /** Resolves once every event up to `position` is evaluated and its firings recorded. */
  async waitUntilProcessed(position: GlobalPosition, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.processed < position) {
      if (Date.now() > deadline) throw new Error(`trigger engine did not reach position ${position} (at ${this.processed})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.serial(async () => undefined);
  }

  private newSet(): TriggerSet {
    const lateToleranceMs = this.options.lateToleranceMs ?? Math.max(2_000, 2 * (this.options.tickMs ?? 1000));
    return new TriggerSet({ allowedLatenessMs: this.options.allowedLatenessMs, lateToleranceMs });
  }

  private async doStart(): Promise<void> {
    this.stopped = false;
    await this.resume();
    const tickMs = this.options.tickMs ?? 1000;
    if (tickMs > 0) {
      this.timer = setInterval(() => void this.tick().catch((error: unknown) => this.logError(error, 'trigger tick failed')), tickMs);
      this.timer.unref();
    }
  }

  /** From the committed states and checkpoint: the triggers as they were there, then the subscription after it. */
  private async resume(): Promise<void> {
    const loaded = await this.options.states.load(this.name);
    this.set = this.newSet();
    this.aggregates.clear();
    await this.rebuildUpTo(loaded.position);
    this.set.restore(loaded.evaluations);
    this.reported.clear();
    for (const trigger of this.set.all()) this.reported.set(keyOf(trigger), { ...trigger.stats });
    this.processed = loaded.position;
    this.committed = loaded.position;
    this.dues = [];
    this.broken = false;
    if (this.stopped) return;
    this.subscription = this.options.store.subscribe(
      {
        onEvents: (events) => this.serial(() => this.handleBatch(events)),
        onCaughtUp: () => void this.tick().catch((error: unknown) => this.logError(error, 'trigger tick failed')),
        onError: (error) => this.logError(error, 'trigger engine subscription failed; retrying'),
      },
      { after: loaded.position, batchSize: this.options.batchSize ?? 500 },
    );
  }

  /** The triggers as they were at `position`: their lifecycle events, replayed. */
  private async rebuildUpTo(position: GlobalPosition): Promise<void> {
    for (let after = 0; after < position; ) {
      const page = await this.options.store.readAll({ after, limit: PAGE_SIZE, filter: { types: TRIGGER_LIFECYCLE_TYPES } });
      for (const event of page) {
        if (event.position > position) return;
        this.set.apply(event);
      }
      if (page.length < PAGE_SIZE) return;
      after = page[page.length - 1].position;
    }
  }

  private async handleBatch(events: readonly RecordedEvent[]): Promise<void> {
    if (this.stopped || this.broken) return;
    // At least once: what this run has already evaluated is not evaluated again.
    const fresh = events.filter((event) => event.position > this.processed);
    if (fresh.length === 0) return;
    try {
      const fired: DecidedFiring[] = [];
      for (const event of fresh) {
        if (TriggerSet.isLifecycleEvent(event)) {
          this.set.apply(event);
          if (event.type === 'trigger.deleted') this.forget(event);
          continue;
        }
        if (TriggerSet.isFiringEvent(event)) {
          this.set.countRecordedFiring(event.streamName, event.data as TriggerFired['data']);
          continue;
        }
        const needs = this.set.needsEntity(event);
        const entity = needs === null ? undefined : await this.entities.stateAt(needs.tenantId, needs.subject, event.position);
        fired.push(...this.set.evaluate(event, entity));
      }
      // Recorded before the position moves past them.
      await this.record(fired);
      this.processed = fresh[fresh.length - 1].position;
      await this.advanceIfDue();
      await this.commit(false);
    } catch (error) {
      this.breakAndRecover(error);
    }
  }

  /** Advances time to the latest clock reading whose events have all been evaluated. */
  private async advanceIfDue(): Promise<void> {
    if (this.stopped || this.broken) return;
    let reached = -1;
    for (let index = 0; index < this.dues.length && this.dues[index].head <= this.processed; index += 1) reached = index;
    if (reached < 0) return;
    const { now } = this.dues[reached];
    this.dues.splice(0, reached + 1);
    try {
      await this.record(this.set.advance(now));
      await this.commit(false);
    } catch (error) {
      this.breakAndRecover(error);
    }
  }

  /**
   * A step failed half-way (a store or database error): the states in memory have moved on without
   * their firings being recorded, so they must not be committed. Stop taking events, and start again
   * from the last commit after a pause: the events since are evaluated again, and the firings that
   * did get recorded are no-ops the second time.
   */
  private breakAndRecover(error: unknown): void {
    this.logError(error, 'trigger engine step failed; restarting from its last commit');
    if (this.broken) return;
    this.broken = true;
    this.failures += 1;
    const delay = Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9));
    this.recovery = setTimeout(() => {
      this.recovery = null;
      void this.recover();
    }, delay);
    this.recovery.unref();
  }

  private async recover(): Promise<void> {
    if (this.stopped) return;
    const subscription = this.subscription;
    this.subscription = null;
    try {
      if (subscription !== null) await subscription.stop();
      if (this.stopped) return;
      await this.serial(() => this.resume());
    } catch (error) {
      this.broken = false;
      this.breakAndRecover(error);
    }
  }

  /** Records the firings of one step: one atomic append; a conflict re-reads the triggers and decides again. */
  private async record(fired: readonly DecidedFiring[]): Promise<void> {
    if (fired.length === 0) return;
    for (let attempt = 1; ; attempt += 1) {
      const plan = await this.plan(fired);
      try {
        if (plan.requests.length > 0) {
          const results = await this.options.store.appendMany(plan.requests);
          results.forEach((result, index) => {
            const aggregate = plan.aggregates[index];
            this.remember(plan.keys[index], { state: aggregate.state, revision: result.nextExpectedRevision });
          });
        }
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_APPEND_ATTEMPTS) throw error;
        for (const key of plan.keys) this.aggregates.delete(key);
        continue;
      }
      for (const { trigger, counter } of plan.counts) this.set.count(trigger, { [counter]: trigger.stats[counter] + 1 });
      return;
    }
  }

  private async plan(fired: readonly DecidedFiring[]): Promise<{
    requests: AppendRequest[];
    keys: string[];
    aggregates: CachedAggregate[];
    counts: { trigger: WatchedTrigger; counter: TriggerCounter }[];
  }> {
    const byStream = new Map<string, { request: { streamName: string; events: NewEvent[]; expected: number | 'no_stream' }; aggregate: CachedAggregate }>();
    const counts: { trigger: WatchedTrigger; counter: TriggerCounter }[] = [];
    for (const { trigger, firing, completedBy } of fired) {
      const key = keyOf(trigger);
      let entry = byStream.get(key);
      if (entry === undefined) {
        const loaded = await this.aggregate(trigger);
        entry = {
          request: { streamName: streamName('trigger', trigger.triggerId, trigger.tenantId), events: [], expected: loaded.revision < 0 ? 'no_stream' : loaded.revision },
          aggregate: { ...loaded },
        };
        byStream.set(key, entry);
      }
      const occurrenceKey = recordedOccurrenceKey(firing.occurrenceKey);
      const firingId = triggerFiringId(trigger.tenantId, trigger.triggerId, occurrenceKey);
      const metadata = await this.chainOf(trigger, firingId, firing.matched, completedBy);
      if (metadata.hop > this.options.maxHops) {
        counts.push({ trigger, counter: 'refused' });
        this.logger.warn({ triggerId: trigger.triggerId, correlationId: metadata.correlationId, hop: metadata.hop }, 'trigger firing refused: its chain is out of hops');
        continue;
      }
      const command: FireTrigger = {
        type: 'FireTrigger',
        data: {
          triggerId: trigger.triggerId,
          firingId,
          occurrenceKey,
          matchedEvents: firing.matched.map((matched) => ({ eventId: matched.eventId, position: matched.position, type: matched.type, subject: matched.subject, time: matched.time })),
          firedAt: new Date(firing.at).toISOString(),
          subject: firing.subject,
          late: firing.late,
        },
      };
      let events: TriggerAggregateEvent[];
      try {
        events = triggerDecider.decide(command, entry.aggregate.state, {
          now: metadata.occurredAt,
          actor: TRIGGER_ENGINE_ACTOR,
          tenantId: trigger.tenantId,
          correlationId: metadata.correlationId,
          newId: () => firingId,
        });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        counts.push({ trigger, counter: error.code === 'TRIGGER_COOLING_DOWN' ? 'suppressed' : 'refused' });
        continue;
      }
      // Already recorded for this occurrence (a replay after a crash): nothing to do. Recorded
      // firings are counted when the subscription delivers them.
      if (events.length === 0) continue;
      entry.aggregate.state = events.reduce(triggerDecider.evolve, entry.aggregate.state);
      for (const event of events) entry.request.events.push({ eventId: firingId, type: event.type, data: event.data, metadata });
    }
    const entries = [...byStream.entries()].filter(([, entry]) => entry.request.events.length > 0);
    return {
      requests: entries.map(([, entry]) => entry.request),
      keys: entries.map(([key]) => key),
      aggregates: entries.map(([, entry]) => entry.aggregate),
      counts,
    };
  }

  /** The trigger aggregate, from cache or folded from its stream. */
  private async aggregate(trigger: WatchedTrigger): Promise<CachedAggregate> {
    const key = keyOf(trigger);
    const cached = this.aggregates.get(key);
    const from = cached?.revision ?? -1;
    const events = await this.options.store.readStream(streamName('trigger', trigger.triggerId, trigger.tenantId), { fromRevision: from + 1 });
    let state = cached?.state ?? triggerDecider.initialState();
    let revision = from;
    for (const event of events) {
      state = triggerDecider.evolve(state, { type: event.type, data: event.data } as TriggerAggregateEvent);
      revision = event.revision;
    }
    const loaded = { state, revision };
    this.remember(key, loaded);
    return loaded;
  }

  /** Keeps the most recently used aggregates (the least recently used is folded again when needed). */
  private remember(key: string, aggregate: CachedAggregate): void {
    this.aggregates.delete(key);
    this.aggregates.set(key, aggregate);
    if (this.aggregates.size > (this.options.cachedAggregates ?? 1000)) {
      const oldest = this.aggregates.keys().next().value;
      if (oldest !== undefined) this.aggregates.delete(oldest);
    }
  }

  /** A deleted trigger's aggregate and reported counters are dropped. */
  private forget(event: RecordedEvent): void {
    const triggerId = (event.data as { triggerId?: unknown }).triggerId;
    if (typeof triggerId !== 'string') return;
    const key = keyOf({ tenantId: event.metadata.tenantId, triggerId });
    this.aggregates.delete(key);
    this.reported.delete(key);
  }

  /** The chain a firing joins: the completing event's, an absence's opening event's, or a new one. */
  private async chainOf(trigger: WatchedTrigger, firingId: string, matched: DecidedFiring['firing']['matched'], completedBy: RecordedEvent | null): Promise<EventMetadata> {
    const occurredAt = new Date(this.options.clock()).toISOString();
    let cause = completedBy;
    if (cause === null && matched.length > 0) {
      const first = matched[0];
      const [stored] = await this.options.store.readAll({ after: first.position - 1, limit: 1 });
      cause = stored !== undefined && stored.eventId === first.eventId ? stored : null;
    }
    const base = { occurredAt, tenantId: trigger.tenantId, actor: TRIGGER_ENGINE_ACTOR };
    if (cause === null) {
      // A schedule starts a chain of its own: the firing is its origin.
      return { ...base, correlationId: firingId, causationId: null, hop: 0 };
    }
    return {
      ...base,
      correlationId: cause.metadata.correlationId,
      causationId: cause.eventId,
      hop: cause.metadata.hop + 1,
      ...(cause.metadata.traceparent !== undefined && { traceparent: cause.metadata.traceparent }),
    };
  }

  /**
   * Commits states, counters and checkpoint — at most every `commitIntervalMs` unless forced — then
   * reports to the observer what the commit added to the counters (never what a failed step counted).
   */
  private async commit(force: boolean): Promise<void> {
    if (this.broken) return;
    const now = Date.now();
    // Large states make commits costly: then commit less often, so that committing takes at most
    // about a fifth of the engine's time (a crash replays a little more, and changes nothing else).
    const minimum = this.options.commitIntervalMs ?? 200;
    const interval = minimum === 0 ? 0 : Math.max(minimum, 4 * this.lastCommitMs);
    if (!force && now - this.lastCommitAt < interval) return;
    if (!this.set.hasChanges && this.processed === this.committed) return;
    const { changed, removed } = this.set.drainChanges();
    await this.options.states.commit(this.name, this.processed, changed, removed);
    this.committed = this.processed;
    this.lastCommitAt = Date.now();
    this.lastCommitMs = this.lastCommitAt - now;
    this.failures = 0;
    this.report(changed);
  }

  private report(changed: readonly StoredTriggerEvaluation[]): void {
    const observer = this.options.observer;
    for (const row of changed) {
      const key = keyOf(row);
      const before = this.reported.get(key);
      this.reported.set(key, row.stats);
      if (observer === undefined) continue;
      for (const counter of COUNTERS) {
        const amount = row.stats[counter] - (before?.[counter] ?? 0);
        if (amount > 0) observer.counted(row, counter, amount);
      }
    }
  }

  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private logError(error: unknown, message: string): void {
    this.logger.error({ err: error }, message);
  }
}

function keyOf(trigger: { readonly tenantId: string; readonly triggerId: string }): string {
  return `${trigger.tenantId}\n${trigger.triggerId}`;
}
