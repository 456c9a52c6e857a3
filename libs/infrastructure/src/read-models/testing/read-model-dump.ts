import type { DataSource } from 'typeorm';
import type { Projection } from '../engine/projection';
import { PROJECTION_VERSION_COLUMN } from '../column-types';
import { withReader } from '../read-model-transactions';

/**
 * Every row of one version of a projection, table by table, without the version column and in
 * primary-key order: two versions built from the same events must dump identically.
 */
export async function dumpProjectionVersion(dataSource: DataSource, projection: Projection, version: number): Promise<Record<string, Array<Record<string, unknown>>>> {
  return withReader(dataSource, async (manager) => {
    const dump: Record<string, Array<Record<string, unknown>>> = {};
    for (const table of projection.tables) {
      const metadata = dataSource.getMetadata(table);
      const versionProperty = metadata.columns.find((column) => column.databaseName === PROJECTION_VERSION_COLUMN)?.propertyName;
      if (!versionProperty) throw new Error(`${metadata.tableName} has no ${PROJECTION_VERSION_COLUMN} column`);
      const builder = manager.getRepository(table).createQueryBuilder('t').where(`t.${versionProperty} = :version`, { version });
      for (const column of metadata.primaryColumns) builder.addOrderBy(`t.${column.propertyName}`, 'ASC');
      const rows = await builder.getMany();
      dump[metadata.tableName] = rows.map((row) => {
        const copy: Record<string, unknown> = { ...row };
        delete copy[versionProperty];
        return copy;
      });
    }
    return dump;
  });
}
