import {
  assertNever,
  parseStreamName,
  type EntityState,
  type RecordedEvent,
  type TriggerDefinition,
  type TriggerEvent as TriggerAggregateEvent,
} from '@meridian/domain';
import { cloudEventViewOf, type CloudEventView } from '../routing/cloud-event-view';
import type { ConditionEvaluator, ConditionFiring, EvaluationResult, TriggerEvent } from './condition-evaluator';
import { absenceConditionEvaluator } from './absence-condition.evaluator';
import { eventConditionEvaluator } from './event-condition.evaluator';
import { scheduleConditionEvaluator } from './schedule-condition.evaluator';
import { sequenceConditionEvaluator } from './sequence-condition.evaluator';
import { stateConditionEvaluator, subjectIsOfType } from './state-condition.evaluator';
import { thresholdConditionEvaluator } from './threshold-condition.evaluator';
import { EMPTY_TRIGGER_STATS, type StoredTriggerEvaluation, type TriggerEvaluationKey, type TriggerEvaluationStats } from './trigger-state-store.port';
import { isWindowCondition, windowConditionTypes } from './window-condition.evaluator';
import type { TriggerMatchError } from './window-evaluation';

/**
 * The triggers one engine watches, with each one's evaluator and state: the in-memory, synchronous
 * core of the proactive engine (the durable engine around it feeds it in store order, records
 * firings and commits states). It has no clock and no I/O, so a benchmark and a test can drive it
 * exactly as the engine does.
 *
 * - Trigger lifecycle events (`trigger.defined/changed/enabled/disabled/deleted`) are applied in
 *   store order with the domain events, so every event is evaluated against the triggers as they
 *   were at its position.
 * - A trigger's state starts fresh when it is defined, when its condition changes, and when it is
 *   enabled again (what happened while it was disabled is not watched); `stateSince`/`stateReason`
 *   say when and why. Changing its name, action or cooldown keeps the state.
 * - Events are indexed by type: an event is evaluated only against the triggers whose patterns can
 *   match it (exact types in a map, prefixes in a short list), and `state` triggers only for
 *   subjects of their type. Each evaluation is counted per trigger.
 * - Only ingested domain events (`entity-`/`source-` streams, with a CloudEvent envelope) are
 *   evaluated, as only they are routed to agents.
 */

export const TRIGGER_LIFECYCLE_TYPES = ['trigger.defined', 'trigger.changed', 'trigger.enabled', 'trigger.disabled', 'trigger.deleted'] as const;

const EVALUATED_CATEGORIES = new Set(['entity', 'source']);
const NO_TRIGGERS: ReadonlySet<WatchedTrigger> = new Set();

export interface TriggerSetOptions {
  /** How late an event (behind the newest event time a trigger has seen) may be and still count. */
  readonly allowedLatenessMs: number;
  /** How far past its closing a deadline may be decided and still be on time. Default 1 s. */
  readonly lateToleranceMs?: number;
}

/** One trigger as the engine holds it. `state` is null while the trigger is disabled. */
export interface WatchedTrigger {
  readonly tenantId: string;
  readonly triggerId: string;
  agentId: string;
  definition: TriggerDefinition;
  version: number;
  enabled: boolean;
  conditionVersion: number;
  stateSince: string;
  stateReason: string;
  state: unknown;
  /** Owned by the trigger and updated in place (per evaluation); copied whenever it leaves the set. */
  stats: MutableStats;
  evaluator: ConditionEvaluator<unknown> | null;
  nextDeadline: number | null;
}

/** A firing the evaluator decided, with what it needs to be recorded. */
export interface DecidedFiring {
  readonly trigger: WatchedTrigger;
  readonly firing: ConditionFiring;
  /** The event whose evaluation completed it; null when a deadline did (absences, schedules). */
  readonly completedBy: RecordedEvent | null;
}

interface TenantIndex {
  readonly exact: Map<string, Set<WatchedTrigger>>;
  /** Prefix patterns (`order.*` → `order.`); `*` is the empty prefix. */
  readonly prefixes: Map<string, Set<WatchedTrigger>>;
  readonly state: Set<WatchedTrigger>;
}

const keyOf = (tenantId: string, triggerId: string) => `${tenantId}\n${triggerId}`;

type MutableStats = { -readonly [K in keyof TriggerEvaluationStats]: TriggerEvaluationStats[K] };

function eventTimeOf(event: RecordedEvent, view: CloudEventView): number {
  const time = view.time === null ? Number.NaN : Date.parse(view.time);
  return Number.isFinite(time) ? time : Date.parse(event.recordedAt);
}

function whenOf(event: RecordedEvent): string {
  return typeof event.metadata.occurredAt === 'string' && Number.isFinite(Date.parse(event.metadata.occurredAt)) ? event.metadata.occurredAt : event.recordedAt;
}

export class TriggerSet {
  private readonly triggers = new Map<string, WatchedTrigger>();
  private readonly indexes = new Map<string, TenantIndex>();
  private readonly dirty = new Set<WatchedTrigger>();
  private readonly removed = new Map<string, TriggerEvaluationKey>();

  constructor(private readonly options: TriggerSetOptions) {}

  get size(): number {
    return this.triggers.size;
  }

  get(tenantId: string, triggerId: string): WatchedTrigger | undefined {
    return this.triggers.get(keyOf(tenantId, triggerId));
  }

  all(): IterableIterator<WatchedTrigger> {
    return this.triggers.values();
  }

  /** Whether `event` is a trigger lifecycle event this set applies (from a trigger stream). */
  static isLifecycleEvent(event: RecordedEvent): boolean {
    if (!(TRIGGER_LIFECYCLE_TYPES as readonly string[]).includes(event.type)) return false;
    return parseStreamName(event.streamName)?.category === 'trigger';
  }

  /** Whether `event` is a recorded firing (`trigger.fired` in a trigger stream). */
  static isFiringEvent(event: RecordedEvent): boolean {
    return event.type === 'trigger.fired' && parseStreamName(event.streamName)?.category === 'trigger';
  }

  /** Counts a recorded firing (as the store delivers it): `firings`, and `lateFirings` when it was late. */
  countRecordedFiring(stream: string, fired: { readonly late?: boolean }): void {
    const parsed = parseStreamName(stream);
    const trigger = parsed === null ? undefined : this.triggers.get(keyOf(parsed.tenantId, parsed.id));
    if (trigger === undefined) return;
    this.count(trigger, { firings: trigger.stats.firings + 1, lateFirings: trigger.stats.lateFirings + (fired.late === true ? 1 : 0) });
  }

  /** Applies a trigger lifecycle event (anything else is ignored). */
  apply(event: RecordedEvent): void {
    if (!TriggerSet.isLifecycleEvent(event)) return;
    const parsed = parseStreamName(event.streamName);
    if (parsed === null) return;
    const { tenantId, id: triggerId } = parsed;
    const key = keyOf(tenantId, triggerId);
    const current = this.triggers.get(key);
    const typed = { type: event.type, data: event.data } as TriggerAggregateEvent;
    const at = whenOf(event);
    switch (typed.type) {
      case 'trigger.defined': {
        if (current !== undefined) return;
        const { agentId, definition, enabled, version } = typed.data;
        const trigger: WatchedTrigger = {
          tenantId,
          triggerId,
          agentId,
          definition,
          version,
          enabled,
          conditionVersion: version,
          stateSince: at,
          stateReason: 'defined',
          state: null,
          stats: { ...EMPTY_TRIGGER_STATS },
          evaluator: null,
          nextDeadline: null,
        };
        this.triggers.set(key, trigger);
        this.removed.delete(key);
        if (enabled) this.startFresh(trigger, at, 'defined');
        this.touch(trigger);
        return;
      }
      case 'trigger.changed': {
        if (current === undefined) return;
        const conditionChanged = typed.data.changed.includes('condition');
        this.unindex(current);
        current.definition = typed.data.definition;
        current.version = typed.data.version;
        current.agentId = typed.data.agentId;
        if (conditionChanged) {
          current.conditionVersion = typed.data.version;
          if (current.enabled) this.startFresh(current, at, 'condition-changed');
          else {
            current.stateSince = at;
            current.stateReason = 'condition-changed';
          }
        } else if (current.enabled) {
          // Same condition: the evaluator is rebuilt (its options are the same) but keeps its state.
          current.evaluator = this.evaluatorFor(current, Date.parse(current.stateSince));
          this.index(current);
        }
        this.touch(current);
        return;
      }
      case 'trigger.enabled':
        if (current === undefined || current.enabled) return;
        current.enabled = true;
        this.startFresh(current, at, 'enabled');
        this.touch(current);
        return;
      case 'trigger.disabled':
        if (current === undefined || !current.enabled) return;
        this.unindex(current);
        current.enabled = false;
        current.evaluator = null;
        current.state = null;
        current.nextDeadline = null;
        this.touch(current);
        return;
      case 'trigger.deleted':
        if (current === undefined) return;
        this.unindex(current);
        this.triggers.delete(key);
        this.dirty.delete(current);
        this.removed.set(key, { tenantId, triggerId });
        return;
      default:
        return;
    }
  }

  /**
   * Puts back what the engine committed: the state of each trigger whose condition version still
   * matches (anything else starts fresh, as the lifecycle already decided) and every counter.
   */
  restore(evaluations: readonly StoredTriggerEvaluation[]): void {
    for (const stored of evaluations) {
      const trigger = this.triggers.get(keyOf(stored.tenantId, stored.triggerId));
      if (trigger === undefined) continue;
      trigger.stats = { ...EMPTY_TRIGGER_STATS, ...stored.stats };
      if (stored.conditionVersion !== trigger.conditionVersion) continue;
      trigger.stateSince = stored.stateSince;
      trigger.stateReason = stored.stateReason;
      if (trigger.enabled && trigger.evaluator !== null && stored.state !== null && stored.state !== undefined) {
        trigger.state = stored.state;
        trigger.nextDeadline = trigger.evaluator.nextDeadline(trigger.state);
      }
    }
    this.dirty.clear();
  }

  /** Whether evaluating `event` needs the subject's folded entity state (a `state` trigger watches it). */
  needsEntity(event: RecordedEvent): { readonly tenantId: string; readonly subject: string } | null {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null || !EVALUATED_CATEGORIES.has(parsed.category)) return null;
    const index = this.indexes.get(parsed.tenantId);
    if (index === undefined || index.state.size === 0) return null;
    const view = cloudEventViewOf(event);
    if (view === undefined || view.subject === null) return null;
    const subject = view.subject;
    for (const trigger of index.state) {
      if (trigger.definition.condition.kind === 'state' && subjectIsOfType(subject, trigger.definition.condition.subjectType)) return { tenantId: parsed.tenantId, subject };
    }
    return null;
  }

  /** Evaluates one stored event against the triggers that can match it; returns what fired. */
  evaluate(event: RecordedEvent, entity?: EntityState | null): DecidedFiring[] {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null || !EVALUATED_CATEGORIES.has(parsed.category)) return [];
    const index = this.indexes.get(parsed.tenantId);
    if (index === undefined) return [];
    const view = cloudEventViewOf(event);
    if (view === undefined) return [];
    const candidates = this.candidates(index, view);
    if (candidates.size === 0) return [];
    const input: TriggerEvent = { eventId: event.eventId, position: event.position, view, eventTime: eventTimeOf(event, view), ...(entity !== undefined && { entity }) };
    const fired: DecidedFiring[] = [];
    for (const trigger of candidates) {
      const evaluator = trigger.evaluator;
      if (evaluator === null) continue;
      trigger.stats.evaluations += 1;
      this.touch(trigger);
      this.take(trigger, evaluator.onEvent(trigger.state, input), event, fired);
    }
    return fired;
  }

  /** The earliest deadline of any trigger, or null. */
  nextDeadline(): number | null {
    let earliest: number | null = null;
    for (const trigger of this.triggers.values()) {
      if (trigger.nextDeadline !== null && (earliest === null || trigger.nextDeadline < earliest)) earliest = trigger.nextDeadline;
    }
    return earliest;
  }

  /** Advances every trigger with a deadline due by `now` (epoch ms); returns what fired. */
  advance(now: number): DecidedFiring[] {
    const fired: DecidedFiring[] = [];
    for (const trigger of this.triggers.values()) {
      if (trigger.nextDeadline === null || trigger.nextDeadline > now || trigger.evaluator === null) continue;
      this.take(trigger, trigger.evaluator.onTime(trigger.state, now), null, fired);
    }
    return fired;
  }

  /** Adds to a trigger's counters (the engine counts firings, suppressions and refusals). */
  count(trigger: WatchedTrigger, update: Partial<TriggerEvaluationStats>): void {
    trigger.stats = { ...trigger.stats, ...update };
    this.touch(trigger);
  }

  /** What changed since the last call: rows to store and keys to remove. */
  drainChanges(): { changed: StoredTriggerEvaluation[]; removed: TriggerEvaluationKey[] } {
    const changed: StoredTriggerEvaluation[] = [];
    for (const trigger of this.dirty) {
      changed.push({
        tenantId: trigger.tenantId,
        triggerId: trigger.triggerId,
        conditionVersion: trigger.conditionVersion,
        stateSince: trigger.stateSince,
        stateReason: trigger.stateReason,
        state: trigger.state,
        stats: { ...trigger.stats },
      });
    }
    const removed = [...this.removed.values()];
    this.dirty.clear();
    this.removed.clear();
    return { changed, removed };
  }

  get hasChanges(): boolean {
    return this.dirty.size > 0 || this.removed.size > 0;
  }

  private take(trigger: WatchedTrigger, result: EvaluationResult<unknown>, completedBy: RecordedEvent | null, fired: DecidedFiring[]): void {
    if (result.state !== trigger.state) {
      trigger.state = result.state;
      trigger.nextDeadline = trigger.evaluator === null ? null : trigger.evaluator.nextDeadline(result.state);
      this.touch(trigger);
    } else if (result.late.length > 0 || result.firings.length > 0) this.touch(trigger);
    if (result.late.length > 0) {
      const last = result.late[result.late.length - 1];
      trigger.stats = {
        ...trigger.stats,
        lateEvents: trigger.stats.lateEvents + result.late.length,
        lastLateEvent: { eventId: last.eventId, type: last.type, subject: last.subject, time: last.time, seenAt: new Date(this.seenAt(completedBy)).toISOString() },
      };
    }
    for (const firing of result.firings) fired.push({ trigger, firing, completedBy });
  }

  /** When a late event was seen: when it was recorded (the set has no clock of its own). */
  private seenAt(event: RecordedEvent | null): number {
    return event === null ? 0 : Date.parse(event.recordedAt);
  }

  private candidates(index: TenantIndex, view: CloudEventView): ReadonlySet<WatchedTrigger> {
    const exact = index.exact.get(view.type);
    let found: Set<WatchedTrigger> | null = null;
    for (const [prefix, triggers] of index.prefixes) {
      if (!view.type.startsWith(prefix)) continue;
      found ??= new Set(exact);
      for (const trigger of triggers) found.add(trigger);
    }
    if (view.subject !== null) {
      for (const trigger of index.state) {
        if (trigger.definition.condition.kind !== 'state' || !subjectIsOfType(view.subject, trigger.definition.condition.subjectType)) continue;
        found ??= new Set(exact);
        found.add(trigger);
      }
    }
    // Usually only exact types match: the index's own set is iterated, nothing is copied (the
    // index does not change while an event is evaluated: lifecycle events come one at a time).
    return found ?? exact ?? NO_TRIGGERS;
  }

  private startFresh(trigger: WatchedTrigger, at: string, reason: string): void {
    this.unindex(trigger);
    trigger.stateSince = at;
    trigger.stateReason = reason;
    trigger.evaluator = this.evaluatorFor(trigger, Date.parse(at));
    trigger.state = trigger.evaluator.initialState();
    trigger.nextDeadline = trigger.evaluator.nextDeadline(trigger.state);
    this.index(trigger);
  }

  private evaluatorFor(trigger: WatchedTrigger, since: number): ConditionEvaluator<unknown> {
    const condition = trigger.definition.condition;
    const onMatchError = (error: TriggerMatchError) => {
      trigger.stats = { ...trigger.stats, matchErrors: trigger.stats.matchErrors + 1, lastMatchError: `${error.path}: ${error.message}` };
      this.touch(trigger);
    };
    const options = { allowedLatenessMs: this.options.allowedLatenessMs, lateToleranceMs: this.options.lateToleranceMs, onMatchError };
    // The kinds' own evaluators, without the wrappers that refuse another kind's state: here a
    // state always belongs to its condition (a changed condition starts afresh, a stored state is
    // only taken back for the same condition version), and the wrapper's extra call sits on the
    // path of every evaluation.
    switch (condition.kind) {
      case 'event':
        return eventConditionEvaluator(condition, options) as ConditionEvaluator<unknown>;
      case 'threshold':
        return thresholdConditionEvaluator(condition, options) as ConditionEvaluator<unknown>;
      case 'sequence':
        return sequenceConditionEvaluator(condition, options) as ConditionEvaluator<unknown>;
      case 'absence':
        return absenceConditionEvaluator(condition, options) as ConditionEvaluator<unknown>;
      case 'schedule':
        return scheduleConditionEvaluator(condition, { ...options, since }) as ConditionEvaluator<unknown>;
      case 'state':
        return stateConditionEvaluator(condition, options) as ConditionEvaluator<unknown>;
      default:
        return assertNever(condition);
    }
  }

  private index(trigger: WatchedTrigger): void {
    if (!trigger.enabled) return;
    const index = this.indexOf(trigger.tenantId);
    const condition = trigger.definition.condition;
    if (condition.kind === 'state') {
      index.state.add(trigger);
      return;
    }
    if (!isWindowCondition(condition)) return;
    for (const pattern of windowConditionTypes(condition)) {
      const [map, key] = pattern.endsWith('*') ? [index.prefixes, pattern.slice(0, -1)] : [index.exact, pattern];
      let set = map.get(key);
      if (set === undefined) {
        set = new Set();
        map.set(key, set);
      }
      set.add(trigger);
    }
  }

  private unindex(trigger: WatchedTrigger): void {
    const index = this.indexes.get(trigger.tenantId);
    if (index === undefined) return;
    index.state.delete(trigger);
    for (const map of [index.exact, index.prefixes]) {
      for (const [key, set] of map) {
        if (set.delete(trigger) && set.size === 0) map.delete(key);
      }
    }
  }

  private indexOf(tenantId: string): TenantIndex {
    let index = this.indexes.get(tenantId);
    if (index === undefined) {
      index = { exact: new Map(), prefixes: new Map(), state: new Set() };
      this.indexes.set(tenantId, index);
    }
    return index;
  }

  private touch(trigger: WatchedTrigger): void {
    this.dirty.add(trigger);
  }
}
