import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { PROJECTION_VERSION_COLUMN } from '../column-types';
import { isPostgresDataSource } from '../read-model-transactions';

/**
 * Deletes up to `chunk` rows of one projection version from one table, returns how many went.
 * Chunked so dropping a large old version never holds a long transaction (or SQLite's single
 * writer) while the live version keeps projecting. Rows are picked by their physical address
 * (SQLite `rowid`, PostgreSQL `ctid`) through the version's index, so each chunk costs its own rows
 * only; a key comparison (`(a, b) IN (SELECT a, b …)`) would scan the whole table per chunk.
 */
export async function deleteVersionChunk(manager: EntityManager, table: EntityTarget<ObjectLiteral>, version: number, chunk: number): Promise<number> {
  const queryRunner = manager.queryRunner;
  if (!queryRunner) throw new Error('deleteVersionChunk must run inside a transaction');
  const connection = manager.connection;
  const metadata = connection.getMetadata(table);
  const escape = (name: string) => connection.driver.escape(name);
  const tablePath = metadata.schema ? `${escape(metadata.schema)}.${escape(metadata.tableName)}` : escape(metadata.tableName);
  const postgres = isPostgresDataSource(connection);
  const address = postgres ? 'ctid' : 'rowid';
  const [versionParam, limitParam] = postgres ? ['$1', '$2'] : ['?', '?'];
  const result = await queryRunner.query(
    `DELETE FROM ${tablePath} WHERE ${address} IN (SELECT ${address} FROM ${tablePath} WHERE ${escape(PROJECTION_VERSION_COLUMN)} = ${versionParam} LIMIT ${limitParam})`,
    [version, chunk],
    true,
  );
  return typeof result.affected === 'number' ? result.affected : 0;
}
