import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { PROJECTION_VERSION_COLUMN } from '../column-types';
import { isPostgresDataSource } from '../read-model-transactions';

/**
 * Deletes up to `chunk` rows of one projection version from one table, returns how many went.
 * Chunked so dropping a large old version never holds a long transaction (or SQLite's single
 * writer) while the live version keeps projecting. Row values (`(a, b) IN (SELECT a, b …)`) work on
 * PostgreSQL and SQLite ≥ 3.15 alike, for any composite primary key.
 */
export async function deleteVersionChunk(manager: EntityManager, table: EntityTarget<ObjectLiteral>, version: number, chunk: number): Promise<number> {
  const queryRunner = manager.queryRunner;
  if (!queryRunner) throw new Error('deleteVersionChunk must run inside a transaction');
  const connection = manager.connection;
  const metadata = connection.getMetadata(table);
  const escape = (name: string) => connection.driver.escape(name);
  const tablePath = metadata.schema ? `${escape(metadata.schema)}.${escape(metadata.tableName)}` : escape(metadata.tableName);
  const keys = metadata.primaryColumns.map((column) => escape(column.databaseName)).join(', ');
  const [versionParam, limitParam] = isPostgresDataSource(connection) ? ['$1', '$2'] : ['?', '?'];
  const result = await queryRunner.query(
    `DELETE FROM ${tablePath} WHERE (${keys}) IN (SELECT ${keys} FROM ${tablePath} WHERE ${escape(PROJECTION_VERSION_COLUMN)} = ${versionParam} LIMIT ${limitParam})`,
    [version, chunk],
    true,
  );
  return typeof result.affected === 'number' ? result.affected : 0;
}
