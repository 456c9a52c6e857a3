import type { DataSource, EntityManager } from 'typeorm';

/**
 * Transactions on the read-model database.
 *
 * TypeORM's better-sqlite3 driver has ONE connection and one query runner per DataSource: two
 * transactions started concurrently would silently nest (savepoints) and a read issued while another
 * caller's transaction is open would see its uncommitted rows. So on SQLite every unit of work —
 * writes and reads — is serialised per DataSource. On PostgreSQL each transaction gets its own pooled
 * connection and runs concurrently; row locks and the checkpoint compare-and-set keep writers apart.
 */
const gates = new WeakMap<DataSource, { tail: Promise<void> }>();

export function isSqliteDataSource(dataSource: DataSource): boolean {
  return dataSource.options.type === 'better-sqlite3' || dataSource.options.type === 'sqlite';
}

export function isPostgresDataSource(dataSource: DataSource): boolean {
  return dataSource.options.type === 'postgres';
}

function serialised<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  let gate = gates.get(dataSource);
  if (!gate) {
    gate = { tail: Promise.resolve() };
    gates.set(dataSource, gate);
  }
  const result = gate.tail.then(work);
  gate.tail = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

/** Runs `work` in a read-write transaction (committed when it resolves, rolled back when it throws). */
export function inWriteTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (isSqliteDataSource(dataSource)) return serialised(dataSource, () => dataSource.transaction(work));
  return dataSource.transaction(work);
}

/**
 * Runs `work` against one consistent snapshot: queries spanning several tables (a conversation and
 * its messages) never mix two states, even across a projection switch.
 */
export function inReadTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (isSqliteDataSource(dataSource)) return serialised(dataSource, () => dataSource.transaction(work));
  return dataSource.transaction('REPEATABLE READ', work);
}

/**
 * Statements outside a transaction (single reads, or autocommit writes by other components sharing
 * the DataSource): direct on PostgreSQL, serialised on SQLite so they never run inside — and commit
 * or roll back with — a projection's open transaction on the shared connection.
 */
export function withReadModelConnection<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (isSqliteDataSource(dataSource)) return serialised(dataSource, () => work(dataSource.manager));
  return work(dataSource.manager);
}

/** A single-statement read (see withReadModelConnection). */
export function withReader<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (isSqliteDataSource(dataSource)) return serialised(dataSource, () => work(dataSource.manager));
  return work(dataSource.manager);
}
