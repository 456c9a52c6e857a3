import type { EntityManager, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

/** Bound parameters per statement: below SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMETERS = 20_000;

function chunkSize(manager: EntityManager, target: new () => ObjectLiteral): number {
  const columns = manager.connection.getMetadata(target).columns.length;
  return Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns)));
}

/** Plain multi-row INSERTs (rows that cannot exist yet: the checkpoint guarantees each event is applied once). */
export async function insertRows<T extends ObjectLiteral>(manager: EntityManager, target: new () => T, rows: readonly T[]): Promise<void> {
  const size = chunkSize(manager, target);
  for (let start = 0; start < rows.length; start += size) {
    await manager
      .createQueryBuilder()
      .insert()
      .into(target)
      .values(rows.slice(start, start + size) as QueryDeepPartialEntity<T>[])
      .updateEntity(false)
      .execute();
  }
}

/**
 * INSERT … ON CONFLICT (primary key) DO UPDATE every other column, for rows a batch created or
 * changed. Each key must appear once in `rows` (PostgreSQL refuses to update a row twice in one statement).
 */
export async function upsertRows<T extends ObjectLiteral>(manager: EntityManager, target: new () => T, rows: readonly T[]): Promise<void> {
  const metadata = manager.connection.getMetadata(target);
  const keys = metadata.primaryColumns.map((column) => column.databaseName);
  const others = metadata.columns.filter((column) => !column.isPrimary).map((column) => column.databaseName);
  const size = chunkSize(manager, target);
  for (let start = 0; start < rows.length; start += size) {
    await manager
      .createQueryBuilder()
      .insert()
      .into(target)
      .values(rows.slice(start, start + size) as QueryDeepPartialEntity<T>[])
      .orUpdate(others, keys)
      .updateEntity(false)
      .execute();
  }
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
