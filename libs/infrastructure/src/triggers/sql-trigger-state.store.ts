import type { DataSource, EntityManager } from 'typeorm';
import {
  StaleTriggerCommitError,
  type LoadedTriggerEvaluations,
  type StoredTriggerEvaluation,
  type TriggerEvaluationKey,
  type TriggerEvaluationStats,
  type TriggerStateStore,
} from '@meridian/agents';
import { inReadTransaction, inWriteTransaction, withReader, withReadModelConnection } from '../read-models/read-model-transactions';

/** Columns of one upserted row, in statement order. */
const COLUMNS = ['name', 'tenant_id', 'trigger_id', 'condition_version', 'state_since', 'state_reason', 'state', 'stats'] as const;

/**
 * Rows per statement: 8 parameters a row keeps a full statement at 4,000 parameters, far below
 * SQLite's 32,766 and PostgreSQL's 65,535 bind limits.
 */
const MAX_ROWS_PER_STATEMENT = 500;
/** Keys per delete statement (2 parameters each, plus the name). */
const MAX_KEYS_PER_DELETE = 1_000;
/**
 * Serialised JSON per statement. States can be hundreds of KB each: without a budget, 500 of them
 * would make one statement of hundreds of MB that the driver must buffer whole.
 */
const MAX_CHARS_PER_STATEMENT = 8_000_000;

interface EvaluationRow {
  readonly tenant_id: string;
  readonly trigger_id: string;
  readonly condition_version: number | string;
  readonly state_since: string;
  readonly state_reason: string;
  readonly state: string | null;
  readonly stats: string;
}

interface SerialisedEvaluation {
  readonly tenantId: string;
  readonly triggerId: string;
  readonly conditionVersion: number;
  readonly stateSince: string;
  readonly stateReason: string;
  /** null when the state is `undefined` (JSON has no such value; it loads back as `undefined`). */
  readonly state: string | null;
  readonly stats: string;
}

/**
 * The trigger engine's evaluator states, counters and checkpoint, in two tables beside the read
 * models. Like the process checkpoints they are never rebuilt: they say which firings have been
 * decided, and rebuilding them would decide them again.
 *
 * States are kept as JSON text, not `json`/`jsonb`: they are only ever read whole, text keeps the
 * `\u0000` escape that `jsonb` refuses, and it is the same column on both databases.
 */
export class SqlTriggerStateStore implements TriggerStateStore {
  private readonly pg: boolean;
  private readonly checkpoints: string;
  private readonly evaluations: string;

  constructor(private readonly dataSource: DataSource) {
    this.pg = dataSource.options.type === 'postgres';
    // Raw SQL does not follow TypeORM's `schema` option: qualify the tables explicitly.
    const schema = this.pg ? (dataSource.options as { schema?: string }).schema : undefined;
    const prefix = schema ? `"${schema.replace(/"/g, '""')}".` : '';
    this.checkpoints = `${prefix}trigger_engine_checkpoints`;
    this.evaluations = `${prefix}trigger_evaluations`;
  }

  /**
   * Creates the tables if missing. The runtime and the gateway both call it at start; on PostgreSQL
   * two concurrent `create table if not exists` can still collide, so they take turns on a
   * transaction-scoped advisory lock.
   */
  async init(): Promise<void> {
    const create = async (manager: EntityManager) => {
      if (this.pg) await manager.query(`select pg_advisory_xact_lock(hashtext($1))`, [`meridian-trigger-state:${this.checkpoints}`]);
      await manager.query(`create table if not exists ${this.checkpoints} (name text primary key, position bigint not null)`);
      await manager.query(
        `create table if not exists ${this.evaluations} (
           name text not null,
           tenant_id text not null,
           trigger_id text not null,
           condition_version int not null,
           state_since text not null,
           state_reason text not null,
           state text,
           stats text not null,
           primary key (name, tenant_id, trigger_id)
         )`,
      );
      // `find` looks a trigger up without its engine's name: the primary key cannot serve it.
      await manager.query(`create index if not exists trigger_evaluations_by_trigger on ${this.evaluations} (tenant_id, trigger_id)`);
    };
    await (this.pg ? inWriteTransaction(this.dataSource, create) : withReadModelConnection(this.dataSource, create));
  }

  async load(name: string): Promise<LoadedTriggerEvaluations> {
    return inReadTransaction(this.dataSource, async (manager) => {
      const checkpoint = (await manager.query(`select position from ${this.checkpoints} where name = ${this.p(1)}`, [name])) as { position: string | number }[];
      const rows = (await manager.query(
        `select tenant_id, trigger_id, condition_version, state_since, state_reason, state, stats
         from ${this.evaluations} where name = ${this.p(1)} order by tenant_id, trigger_id`,
        [name],
      )) as EvaluationRow[];
      return { position: checkpoint.length > 0 ? Number(checkpoint[0].position) : 0, evaluations: rows.map(toEvaluation) };
    });
  }

  async commit(name: string, position: number, changed: readonly StoredTriggerEvaluation[], removed: readonly TriggerEvaluationKey[]): Promise<void> {
    // Serialise everything before the transaction: a state JSON cannot represent fails here, before
    // any write, and the transaction is not held open while large states are stringified.
    const upserts = [...new Map(changed.map((evaluation) => [keyOf(evaluation), serialise(evaluation)])).values()];
    await inWriteTransaction(this.dataSource, async (manager) => {
      const stored = await this.lockCheckpoint(manager, name);
      if (position < stored) throw new StaleTriggerCommitError(name, stored, position);
      for (const chunk of upsertChunks(upserts)) await this.upsert(manager, name, chunk);
      for (let i = 0; i < removed.length; i += MAX_KEYS_PER_DELETE) await this.remove(manager, name, removed.slice(i, i + MAX_KEYS_PER_DELETE));
      await manager.query(`update ${this.checkpoints} set position = ${this.p(1)} where name = ${this.p(2)}`, [position, name]);
    });
  }

  async find(tenantId: string, triggerId: string): Promise<StoredTriggerEvaluation | null> {
    const rows = (await withReader(this.dataSource, (manager) =>
      manager.query(
        `select tenant_id, trigger_id, condition_version, state_since, state_reason, state, stats
         from ${this.evaluations} where tenant_id = ${this.p(1)} and trigger_id = ${this.p(2)} order by name limit 1`,
        [tenantId, triggerId],
      ),
    )) as EvaluationRow[];
    return rows.length > 0 ? toEvaluation(rows[0]) : null;
  }

  /**
   * The stored position, with the checkpoint row locked until the transaction ends. The row is
   * inserted first when missing, so there is always a row to lock: two first commits of one engine
   * then serialise on it instead of both reading "no checkpoint". On SQLite the insert also takes
   * the database's write lock before the read (a deferred transaction that read first could not
   * upgrade if another connection wrote meanwhile).
   */
  private async lockCheckpoint(manager: EntityManager, name: string): Promise<number> {
    await manager.query(`insert into ${this.checkpoints} (name, position) values (${this.p(1)}, 0) on conflict (name) do nothing`, [name]);
    const rows = (await manager.query(`select position from ${this.checkpoints} where name = ${this.p(1)}${this.pg ? ' for update' : ''}`, [name])) as {
      position: string | number;
    }[];
    return Number(rows[0].position);
  }

  private async upsert(manager: EntityManager, name: string, rows: readonly SerialisedEvaluation[]): Promise<void> {
    const parameters: unknown[] = [];
    const tuples = rows.map((row) => {
      const first = parameters.length;
      parameters.push(name, row.tenantId, row.triggerId, row.conditionVersion, row.stateSince, row.stateReason, row.state, row.stats);
      return `(${COLUMNS.map((_, i) => this.p(first + i + 1)).join(', ')})`;
    });
    await manager.query(
      `insert into ${this.evaluations} (${COLUMNS.join(', ')}) values ${tuples.join(', ')}
       on conflict (name, tenant_id, trigger_id) do update set
         condition_version = excluded.condition_version, state_since = excluded.state_since,
         state_reason = excluded.state_reason, state = excluded.state, stats = excluded.stats`,
      parameters,
    );
  }

  private async remove(manager: EntityManager, name: string, keys: readonly TriggerEvaluationKey[]): Promise<void> {
    if (keys.length === 0) return;
    const parameters: unknown[] = [name];
    const pairs = keys.map((key) => {
      parameters.push(key.tenantId, key.triggerId);
      return `(${this.p(parameters.length - 1)}, ${this.p(parameters.length)})`;
    });
    await manager.query(`delete from ${this.evaluations} where name = ${this.p(1)} and (tenant_id, trigger_id) in (${pairs.join(', ')})`, parameters);
  }

  private p(n: number): string {
    return this.pg ? `$${n}` : '?';
  }
}

function keyOf(key: TriggerEvaluationKey): string {
  return `${key.tenantId}\n${key.triggerId}`;
}

function serialise(evaluation: StoredTriggerEvaluation): SerialisedEvaluation {
  let state: string | undefined;
  let stats: string | undefined;
  try {
    state = JSON.stringify(evaluation.state);
    stats = JSON.stringify(evaluation.stats);
  } catch (error) {
    throw new TypeError(
      `trigger ${evaluation.triggerId} (tenant ${evaluation.tenantId}): its evaluation is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (stats === undefined) throw new TypeError(`trigger ${evaluation.triggerId} (tenant ${evaluation.tenantId}): its stats are missing`);
  return {
    tenantId: evaluation.tenantId,
    triggerId: evaluation.triggerId,
    conditionVersion: evaluation.conditionVersion,
    stateSince: evaluation.stateSince,
    stateReason: evaluation.stateReason,
    state: state ?? null,
    stats,
  };
}

/** Consecutive runs of rows within both the parameter and the size budget (always at least one row). */
function* upsertChunks(rows: readonly SerialisedEvaluation[]): Generator<SerialisedEvaluation[]> {
  let chunk: SerialisedEvaluation[] = [];
  let chars = 0;
  for (const row of rows) {
    const size = (row.state?.length ?? 0) + row.stats.length;
    if (chunk.length > 0 && (chunk.length >= MAX_ROWS_PER_STATEMENT || chars + size > MAX_CHARS_PER_STATEMENT)) {
      yield chunk;
      chunk = [];
      chars = 0;
    }
    chunk.push(row);
    chars += size;
  }
  if (chunk.length > 0) yield chunk;
}

function toEvaluation(row: EvaluationRow): StoredTriggerEvaluation {
  return {
    tenantId: row.tenant_id,
    triggerId: row.trigger_id,
    conditionVersion: Number(row.condition_version),
    stateSince: row.state_since,
    stateReason: row.state_reason,
    state: row.state === null ? undefined : (JSON.parse(row.state) as unknown),
    stats: JSON.parse(row.stats) as TriggerEvaluationStats,
  };
}
