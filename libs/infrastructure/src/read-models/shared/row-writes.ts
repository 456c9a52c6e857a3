import type { EntityManager, ObjectLiteral } from 'typeorm';

/** Bound parameters per statement: below SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMETERS = 20_000;

/**
 * Multi-row INSERT statements built straight from the entity metadata. TypeORM's InsertQueryBuilder
 * spends most of a large insert in its named-parameter bookkeeping (quadratic in the row count);
 * rebuilds write every row of a read model, so writes take this direct path: the values are
 * converted as TypeORM would (transformers, JSON, booleans) and bound positionally.
 */
interface WritePlan {
  readonly table: string;
  readonly columns: readonly string[];
  readonly keys: readonly string[];
  readonly values: ReadonlyArray<(row: ObjectLiteral) => unknown>;
  readonly postgres: boolean;
  readonly rowsPerStatement: number;
}

const plans = new WeakMap<EntityManager['connection'], Map<new () => ObjectLiteral, WritePlan>>();

function writePlan(manager: EntityManager, target: new () => ObjectLiteral): WritePlan {
  const connection = manager.connection;
  let cache = plans.get(connection);
  if (!cache) {
    cache = new Map();
    plans.set(connection, cache);
  }
  const cached = cache.get(target);
  if (cached) return cached;
  const metadata = connection.getMetadata(target);
  const escape = (name: string) => connection.driver.escape(name);
  const postgres = connection.options.type === 'postgres';
  const columns = metadata.columns;
  const plan: WritePlan = {
    table: metadata.schema ? `${escape(metadata.schema)}.${escape(metadata.tableName)}` : escape(metadata.tableName),
    columns: columns.map((column) => escape(column.databaseName)),
    keys: metadata.primaryColumns.map((column) => escape(column.databaseName)),
    postgres,
    rowsPerStatement: Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns.length))),
    values: columns.map((column) => {
      const transformer = column.transformer && !Array.isArray(column.transformer) ? column.transformer : undefined;
      const type = String(column.type);
      const isJson = type === 'simple-json' || type === 'json' || type === 'jsonb';
      const isBoolean = type === 'boolean';
      return (row: ObjectLiteral) => {
        let value: unknown = row[column.propertyName];
        if (transformer) value = transformer.to(value);
        if (value === undefined || value === null) return null;
        if (isJson) return JSON.stringify(value);
        if (isBoolean && !postgres) return value ? 1 : 0;
        return value;
      };
    }),
  };
  cache.set(target, plan);
  return plan;
}

/** The better-sqlite3 handle under a TypeORM SQLite DataSource (the connection the transaction runs on). */
interface SqliteHandle {
  prepare(sql: string): { run(...parameters: unknown[]): unknown };
}

function sqliteHandle(manager: EntityManager): SqliteHandle | null {
  if (manager.connection.options.type !== 'better-sqlite3' || !manager.queryRunner?.isTransactionActive) return null;
  const handle: unknown = (manager.connection.driver as unknown as { databaseConnection?: unknown }).databaseConnection;
  return typeof handle === 'object' && handle !== null && typeof (handle as { prepare?: unknown }).prepare === 'function' ? (handle as SqliteHandle) : null;
}

const sqliteStatements = new WeakMap<SqliteHandle, Map<string, { run(...parameters: unknown[]): unknown }>>();

async function writeRows<T extends ObjectLiteral>(manager: EntityManager, target: new () => T, rows: readonly T[], upsert: boolean): Promise<void> {
  if (rows.length === 0) return;
  const plan = writePlan(manager, target);
  const others = plan.columns.filter((column) => !plan.keys.includes(column));
  const conflict = upsert ? ` ON CONFLICT (${plan.keys.join(', ')}) DO UPDATE SET ${others.map((column) => `${column} = excluded.${column}`).join(', ')}` : '';
  const sqlite = sqliteHandle(manager);
  if (sqlite) {
    // SQLite runs in process: one prepared single-row statement, run synchronously on the connection
    // that holds the transaction, beats any multi-row statement and skips the per-query overhead.
    const sql = `INSERT INTO ${plan.table} (${plan.columns.join(', ')}) VALUES (${plan.columns.map(() => '?').join(', ')})${conflict}`;
    let statements = sqliteStatements.get(sqlite);
    if (!statements) {
      statements = new Map();
      sqliteStatements.set(sqlite, statements);
    }
    let statement = statements.get(sql);
    if (!statement) {
      statement = sqlite.prepare(sql);
      statements.set(sql, statement);
    }
    for (const row of rows) statement.run(...plan.values.map((value) => value(row)));
    return;
  }
  for (let start = 0; start < rows.length; start += plan.rowsPerStatement) {
    const chunk = rows.slice(start, start + plan.rowsPerStatement);
    const parameters: unknown[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const placeholders: string[] = [];
      for (const value of plan.values) {
        parameters.push(value(row));
        placeholders.push(plan.postgres ? `$${parameters.length}` : '?');
      }
      tuples.push(`(${placeholders.join(', ')})`);
    }
    await manager.query(`INSERT INTO ${plan.table} (${plan.columns.join(', ')}) VALUES ${tuples.join(', ')}${conflict}`, parameters);
  }
}

/** Plain multi-row INSERTs (rows that cannot exist yet: the checkpoint guarantees each event is applied once). */
export function insertRows<T extends ObjectLiteral>(manager: EntityManager, target: new () => T, rows: readonly T[]): Promise<void> {
  return writeRows(manager, target, rows, false);
}

/**
 * INSERT … ON CONFLICT (primary key) DO UPDATE every other column, for rows a batch created or
 * changed. Each key must appear once in `rows` (PostgreSQL refuses to update a row twice in one statement).
 */
export function upsertRows<T extends ObjectLiteral>(manager: EntityManager, target: new () => T, rows: readonly T[]): Promise<void> {
  return writeRows(manager, target, rows, true);
}

/**
 * Loads rows of one version and tenant whose `column` is one of `values` (chunked IN lists), keyed
 * by `keyOf`. Used by projections to load the rows a batch touches in one round trip per chunk.
 */
export async function loadRowsByColumn<T extends ObjectLiteral>(
  manager: EntityManager,
  target: new () => T,
  version: number,
  tenantId: string,
  property: keyof T & string,
  values: readonly string[],
): Promise<T[]> {
  const rows: T[] = [];
  const unique = [...new Set(values)];
  for (let start = 0; start < unique.length; start += 500) {
    rows.push(
      ...(await manager
        .getRepository(target)
        .createQueryBuilder('r')
        .where(`r.projectionVersion = :version AND r.tenantId = :tenantId AND r.${property} IN (:...values)`, {
          version,
          tenantId,
          values: unique.slice(start, start + 500),
        })
        .getMany()),
    );
  }
  return rows;
}
