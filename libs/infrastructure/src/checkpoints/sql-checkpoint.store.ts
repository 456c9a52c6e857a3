import type { DataSource, EntityManager } from 'typeorm';
import type { CheckpointStore } from '@meridian/agents';
import { inWriteTransaction, withReadModelConnection } from '../read-models/read-model-transactions';

/**
 * Durable checkpoints for process managers (the agent router, trigger evaluators), in a table of
 * their own beside the read models. Unlike read models they are never rebuilt: a process manager's
 * checkpoint says which reactions have happened, and rebuilding must never re-fire them.
 *
 * `save` never moves a checkpoint backwards, so a late save from an older batch cannot undo a newer
 * one.
 */
export class SqlCheckpointStore implements CheckpointStore {
  private readonly pg: boolean;
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    this.pg = dataSource.options.type === 'postgres';
    // Raw SQL does not follow TypeORM's `schema` option: qualify the table explicitly.
    const schema = this.pg ? (dataSource.options as { schema?: string }).schema : undefined;
    this.table = schema ? `"${schema.replace(/"/g, '""')}".process_checkpoints` : 'process_checkpoints';
  }

  /**
   * Creates the table if missing. On PostgreSQL two processes starting together could both run
   * `create table if not exists` and collide (duplicate type): they take turns on a
   * transaction-scoped advisory lock.
   */
  async init(): Promise<void> {
    const create = async (manager: EntityManager) => {
      if (this.pg) await manager.query(`select pg_advisory_xact_lock(hashtext($1))`, [`meridian-process-checkpoints:${this.table}`]);
      await manager.query(`create table if not exists ${this.table} (name text primary key, position bigint not null)`);
    };
    await (this.pg ? inWriteTransaction(this.dataSource, create) : withReadModelConnection(this.dataSource, create));
  }

  async load(name: string): Promise<number> {
    const rows = (await this.query(`select position from ${this.table} where name = ${this.p(1)}`, [name])) as { position: string | number }[];
    return rows.length > 0 ? Number(rows[0].position) : 0;
  }

  async save(name: string, position: number): Promise<void> {
    const newer = this.pg ? `greatest(${this.table}.position, excluded.position)` : 'max(position, excluded.position)';
    await this.query(
      `insert into ${this.table} (name, position) values (${this.p(1)}, ${this.p(2)})
       on conflict (name) do update set position = ${newer}`,
      [name, position],
    );
  }

  private query(sql: string, parameters?: unknown[]): Promise<unknown> {
    return withReadModelConnection(this.dataSource, (manager) => manager.query(sql, parameters));
  }

  private p(n: number): string {
    return this.pg ? `$${n}` : '?';
  }
}
