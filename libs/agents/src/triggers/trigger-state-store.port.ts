/**
 * Where the trigger engine keeps what it must not forget: each trigger's evaluator state (open
 * windows, pending deadlines — the timers), its counters, and the position of the store up to
 * which all of it is true. `commit` writes them together (one transaction), so after a restart the
 * states and the checkpoint agree: the engine replays from the checkpoint and nothing is counted
 * twice or lost. Firings are not kept here: they are `trigger.fired` events, recorded (exactly once
 * per occurrence key) before the commit that moves past them.
 *
 * Conformance suite: libs/infrastructure/src/triggers/trigger-state-store.conformance.ts.
 */
export const TRIGGER_STATE_STORE = Symbol('TriggerStateStore');

/** The last event a trigger could not evaluate because it came too late. */
export interface LateEventReport {
  readonly eventId: string;
  readonly type: string;
  readonly subject: string | null;
  /** Its event time (ISO-8601). */
  readonly time: string;
  /** When the engine saw it (ISO-8601, engine clock). */
  readonly seenAt: string;
}

/** What the engine counted for one trigger, since it was defined (condition changes keep counting). */
export interface TriggerEvaluationStats {
  /** Events evaluated against the condition (ones its types could match). */
  readonly evaluations: number;
  /** Occurrences recorded as `trigger.fired`. */
  readonly firings: number;
  /** Occurrences not fired because the trigger was cooling down. */
  readonly suppressed: number;
  /** Events older than the allowed lateness: counted here, never evaluated. */
  readonly lateEvents: number;
  readonly lastLateEvent: LateEventReport | null;
  /** Firings decided by a deadline the engine reached late (it was down or behind). */
  readonly lateFirings: number;
  /** Occurrences the trigger refused (disabled or deleted meanwhile, chain over budget). */
  readonly refused: number;
  /** Filters and predicates that failed on an event (they do not match). */
  readonly matchErrors: number;
  readonly lastMatchError: string | null;
}

export const EMPTY_TRIGGER_STATS: TriggerEvaluationStats = {
  evaluations: 0,
  firings: 0,
  suppressed: 0,
  lateEvents: 0,
  lastLateEvent: null,
  lateFirings: 0,
  refused: 0,
  matchErrors: 0,
  lastMatchError: null,
};

export interface StoredTriggerEvaluation {
  readonly tenantId: string;
  readonly triggerId: string;
  /** The trigger version whose condition `state` belongs to. */
  readonly conditionVersion: number;
  /** When the state started (ISO-8601): the trigger's definition, its condition's change, or its enabling. */
  readonly stateSince: string;
  /** Why it started then: `defined`, `condition-changed` or `enabled`. */
  readonly stateReason: string;
  /** The evaluator's state: plain JSON. */
  readonly state: unknown;
  readonly stats: TriggerEvaluationStats;
}

export interface TriggerEvaluationKey {
  readonly tenantId: string;
  readonly triggerId: string;
}

export interface LoadedTriggerEvaluations {
  /** 0 when nothing was committed yet. */
  readonly position: number;
  readonly evaluations: readonly StoredTriggerEvaluation[];
}

export interface TriggerStateStore {
  /** The checkpoint and every trigger's stored evaluation under engine `name`, as one snapshot. */
  load(name: string): Promise<LoadedTriggerEvaluations>;
  /**
   * In one transaction: upserts `changed`, removes `removed`, and sets the checkpoint to `position`.
   * A position lower than the stored one is refused (an older batch must not undo a newer one).
   */
  commit(name: string, position: number, changed: readonly StoredTriggerEvaluation[], removed: readonly TriggerEvaluationKey[]): Promise<void>;
  /** One trigger's evaluation (for the API), null when the engine has none. */
  find(tenantId: string, triggerId: string): Promise<StoredTriggerEvaluation | null>;
}

/** Thrown by `commit` when `position` is behind the stored checkpoint. */
export class StaleTriggerCommitError extends Error {
  constructor(
    readonly engine: string,
    readonly stored: number,
    readonly attempted: number,
  ) {
    super(`trigger engine "${engine}" is at position ${stored}; refusing to commit position ${attempted}`);
    this.name = 'StaleTriggerCommitError';
  }
}

const keyOf = (tenantId: string, triggerId: string) => `${tenantId}\n${triggerId}`;

/**
 * Embedded mode and tests: the same contract in process memory. States are copied through JSON on
 * the way in and out, so a caller cannot change what was committed, and a state that does not
 * survive JSON fails here as it would in a database.
 */
export class InMemoryTriggerStateStore implements TriggerStateStore {
  private readonly engines = new Map<string, { position: number; rows: Map<string, string> }>();

  async load(name: string): Promise<LoadedTriggerEvaluations> {
    const engine = this.engines.get(name);
    if (engine === undefined) return { position: 0, evaluations: [] };
    return { position: engine.position, evaluations: [...engine.rows.values()].map((row) => JSON.parse(row) as StoredTriggerEvaluation) };
  }

  async commit(name: string, position: number, changed: readonly StoredTriggerEvaluation[], removed: readonly TriggerEvaluationKey[]): Promise<void> {
    const engine = this.engines.get(name) ?? { position: 0, rows: new Map<string, string>() };
    if (position < engine.position) throw new StaleTriggerCommitError(name, engine.position, position);
    const rows = new Map(engine.rows);
    for (const evaluation of changed) rows.set(keyOf(evaluation.tenantId, evaluation.triggerId), JSON.stringify(evaluation));
    for (const key of removed) rows.delete(keyOf(key.tenantId, key.triggerId));
    this.engines.set(name, { position, rows });
  }

  async find(tenantId: string, triggerId: string): Promise<StoredTriggerEvaluation | null> {
    for (const engine of this.engines.values()) {
      const row = engine.rows.get(keyOf(tenantId, triggerId));
      if (row !== undefined) return JSON.parse(row) as StoredTriggerEvaluation;
    }
    return null;
  }
}
