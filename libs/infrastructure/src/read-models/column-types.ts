import type { PrimaryColumnOptions, ValueTransformer } from 'typeorm';

/**
 * Column conventions shared by every read model, chosen so ONE entity definition works on SQLite and
 * PostgreSQL:
 * - positions and counters are `bigint`; PostgreSQL returns those as strings, so they are read back
 *   as JS numbers (global positions are JS numbers throughout Meridian);
 * - timestamps are ISO-8601 strings (`varchar`): they arrive as strings (CloudEvents `time`, event
 *   metadata) and are handed out as strings, and ISO strings in UTC sort correctly;
 * - JSON is declared `simple-json` (text on SQLite); createReadModelDataSource upgrades these
 *   columns to native `json` on PostgreSQL (see there why not `jsonb`).
 */
export const numberTransformer: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
};

// Helpers return primary-key-compatible options; a nullable column spreads them: `{ ...timestampColumn('x'), nullable: true }`.
export const positionColumn = (name: string): PrimaryColumnOptions => ({ name, type: 'bigint', transformer: numberTransformer });

export const timestampColumn = (name: string): PrimaryColumnOptions => ({ name, type: 'varchar', length: 64 });

export const jsonColumn = (name: string): PrimaryColumnOptions => ({ name, type: 'simple-json' });

/** Every read-model table has this column first in its primary key: the projection version (generation) a row belongs to. */
export const PROJECTION_VERSION_COLUMN = 'projection_version';

export const projectionVersionColumn = (): PrimaryColumnOptions => ({ name: PROJECTION_VERSION_COLUMN, type: 'integer' });

export const tenantColumn = (): PrimaryColumnOptions => ({ name: 'tenant_id', type: 'varchar', length: 128 });
