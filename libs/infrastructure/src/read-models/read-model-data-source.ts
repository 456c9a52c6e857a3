import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client } from 'pg';
import { DataSource, type ObjectLiteral } from 'typeorm';
import { AgentDecisionRecord, AgentRecord } from './agents/agent-read-model.entities';
import { ChainNodeRecord, ChainRecord } from './chains/chain-read-model.entities';
import { ConversationApprovalRecord, ConversationMessageRecord, ConversationRecord } from './conversations/conversation-read-model.entities';
import { ProjectionCheckpointRecord, ProjectionStateRecord } from './engine/projection-bookkeeping.entities';
import { EntityStateRecord } from './ingestion/entity-state.entity';
import { IngestedEventRecord } from './ingestion/ingested-event.entity';
import { TriggerFiringRecord, TriggerRecord } from './triggers/trigger-read-model.entities';

export type ReadModelDatabaseOptions =
  | { readonly type: 'sqlite'; readonly path: string }
  | { readonly type: 'postgres'; readonly url: string; readonly schema?: string };

export interface ReadModelDataSourceOptions {
  /**
   * Create or update the tables at start (default true). The schema is managed by TypeORM's
   * `synchronize` for now — acceptable while the read models are young and rebuildable from the
   * event store; replace with migrations before the first production data that must survive an
   * incompatible change. Pass false in processes that only read (they follow the projector's schema).
   */
  readonly synchronize?: boolean;
  /** Pool size on PostgreSQL. Default 10. */
  readonly poolSize?: number;
  /** Extra entities registered beside the read models (tests, extensions). */
  readonly additionalEntities?: ReadonlyArray<new () => ObjectLiteral>;
}

/** Every read-model entity, plus the projection bookkeeping. */
export const READ_MODEL_ENTITIES: Array<new () => ObjectLiteral> = [
  ProjectionCheckpointRecord,
  ProjectionStateRecord,
  IngestedEventRecord,
  EntityStateRecord,
  AgentRecord,
  AgentDecisionRecord,
  ConversationRecord,
  ConversationMessageRecord,
  ConversationApprovalRecord,
  TriggerRecord,
  TriggerFiringRecord,
  ChainRecord,
  ChainNodeRecord,
];

/**
 * Opens (initialises) the read-model database.
 *
 * SQLite: better-sqlite3 in WAL mode. Keep it in its own file, not in the event store's: TypeORM
 * holds a write transaction across awaits, and better-sqlite3 waits for a lock synchronously, so two
 * writers on one file in one process would stall each other.
 *
 * PostgreSQL: pg pool; `schema` (default `public`) is created if missing. JSON columns become `json`
 * (the entities declare `simple-json` so the same definitions work on SQLite).
 */
export async function createReadModelDataSource(database: ReadModelDatabaseOptions, options: ReadModelDataSourceOptions = {}): Promise<DataSource> {
  const synchronize = options.synchronize ?? true;
  const entities = [...READ_MODEL_ENTITIES, ...(options.additionalEntities ?? [])];
  if (database.type === 'sqlite' && database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
  const dataSource =
    database.type === 'sqlite'
      ? new DataSource({
          type: 'better-sqlite3',
          database: database.path,
          entities,
          synchronize: false,
          enableWAL: true,
          // A second process (the gateway reading) may hold the lock briefly.
          timeout: 10_000,
          prepareDatabase: (db: { pragma: (source: string) => unknown }) => {
            db.pragma('synchronous = NORMAL');
          },
        })
      : new DataSource({
          type: 'postgres',
          url: database.url,
          schema: database.schema ?? 'public',
          entities,
          synchronize: false,
          poolSize: options.poolSize ?? 10,
          extra: { idle_in_transaction_session_timeout: 60_000 },
        });
  if (database.type === 'postgres') {
    await dataSource.initialize();
    upgradeJsonColumns(dataSource);
    if (synchronize) {
      try {
        await synchronizePostgres(dataSource, database.url, database.schema ?? 'public');
      } catch (error) {
        await dataSource.destroy();
        throw error;
      }
    }
    return dataSource;
  }
  await dataSource.initialize();
  if (synchronize) {
    try {
      await dataSource.synchronize();
    } catch (error) {
      await dataSource.destroy();
      throw error;
    }
  }
  return dataSource;
}

/**
 * One entity definition for both databases: the JSON columns are declared `simple-json` (TEXT on
 * SQLite) and switched to a native JSON type here, on this DataSource's own metadata (built per
 * DataSource, so a SQLite DataSource in the same process is unaffected).
 *
 * `json`, not `jsonb`: the event store keeps payloads as `json` and accepts any valid JSON, including
 * the `\u0000` escape, which `jsonb` rejects. With `jsonb` one such ingested event would make its
 * batch fail forever and stop the projection. Read models are fetched whole, never searched inside,
 * so nothing here needs `jsonb`'s operators or indexes.
 */
export const POSTGRES_JSON_TYPE = 'json';

function upgradeJsonColumns(dataSource: DataSource): void {
  for (const metadata of dataSource.entityMetadatas) {
    for (const column of metadata.columns) {
      if (column.type === 'simple-json') column.type = POSTGRES_JSON_TYPE;
    }
  }
}

/**
 * Creates the schema if missing and synchronises the tables while holding an advisory lock, so two
 * processes starting together (projector and gateway) do not race on CREATE TABLE.
 */
async function synchronizePostgres(dataSource: DataSource, url: string, schema: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('meridian-read-models:' || $1))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replace(/"/g, '""')}"`);
    await dataSource.synchronize();
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('meridian-read-models:' || $1))", [schema]).catch(() => undefined);
    await client.end();
  }
}

/**
 * The read-model database as the app uses it: `writer` for the projector, `reader` for queries,
 * status and waits. On SQLite these are two connections to one WAL file, so a query never waits for
 * (nor sees) a projection transaction in progress; on PostgreSQL both are the same pooled DataSource.
 */
export interface ReadModelDatabase {
  readonly writer: DataSource;
  readonly reader: DataSource;
  close(): Promise<void>;
}

export async function openReadModelDatabase(database: ReadModelDatabaseOptions, options: ReadModelDataSourceOptions = {}): Promise<ReadModelDatabase> {
  const writer = await createReadModelDataSource(database, options);
  // An in-memory SQLite database exists once per connection: it cannot have a second reader.
  if (database.type !== 'sqlite' || database.path === ':memory:') {
    return { writer, reader: writer, close: () => writer.destroy() };
  }
  let reader: DataSource;
  try {
    reader = await createReadModelDataSource(database, { ...options, synchronize: false });
  } catch (error) {
    await writer.destroy();
    throw error;
  }
  return {
    writer,
    reader,
    close: async () => {
      await reader.destroy();
      await writer.destroy();
    },
  };
}
