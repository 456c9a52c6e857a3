import type { DataSource, EntityManager } from 'typeorm';
import { inWriteTransaction, withReadModelConnection } from '../read-models/read-model-transactions';

export const IDEMPOTENCY_STORE = Symbol('IdempotencyStore');

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * How long a claim stays "in progress" without completing. A process that dies mid-request leaves
 * its claim behind; after the lease a retry may run (the command never completed its response).
 */
export const IDEMPOTENCY_CLAIM_LEASE_MS = 60_000;

export type ClaimResult =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  | { readonly kind: 'in-progress' }
  | { readonly kind: 'mismatch' };

/**
 * Remembers the first response to each `Idempotency-Key`, scoped to (caller, method, route), with the
 * fingerprint of the body it answered. Kept in the read-model database (SQLite or PostgreSQL), so a
 * retry after a restart or on another gateway replica is still answered from the first response.
 */
export class IdempotencyStore {
  private readonly pg: boolean;
  private readonly table: string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ttlSeconds: number,
  ) {
    this.pg = dataSource.options.type === 'postgres';
    // Raw SQL does not follow TypeORM's `schema` option: qualify the table explicitly.
    const schema = this.pg ? (dataSource.options as { schema?: string }).schema : undefined;
    this.table = schema ? `"${schema.replace(/"/g, '""')}".idempotency_records` : 'idempotency_records';
  }

  /**
   * Creates the table if missing. Gateway replicas starting together on PostgreSQL would collide in
   * `create table if not exists` (duplicate type): they take turns on a transaction-scoped advisory lock.
   */
  async init(): Promise<void> {
    const create = async (manager: EntityManager) => {
      if (this.pg) await manager.query(`select pg_advisory_xact_lock(hashtext($1))`, [`meridian-idempotency:${this.table}`]);
      await manager.query(
        `create table if not exists ${this.table} (
           scope text not null, key text not null, fingerprint text not null,
           state text not null, status integer, body text, expires_at bigint not null,
           primary key (scope, key))`,
      );
    };
    await (this.pg ? inWriteTransaction(this.dataSource, create) : withReadModelConnection(this.dataSource, create));
  }

  /** Claims a key for a new request, or says how the earlier request with the same key stands. */
  async claim(scope: string, key: string, fingerprint: string, nowMs: number): Promise<ClaimResult> {
    await this.query(`delete from ${this.table} where scope = ${this.p(1)} and key = ${this.p(2)} and expires_at < ${this.p(3)}`, [scope, key, nowMs]);
    const inserted: unknown = await this.query(
      `insert into ${this.table} (scope, key, fingerprint, state, expires_at) values (${this.p(1)}, ${this.p(2)}, ${this.p(3)}, 'pending', ${this.p(4)})
       on conflict (scope, key) do nothing returning key`,
      [scope, key, fingerprint, nowMs + IDEMPOTENCY_CLAIM_LEASE_MS],
    );
    if (Array.isArray(inserted) && inserted.length > 0) return { kind: 'claimed' };
    const rows = (await this.query(`select fingerprint, state, status, body from ${this.table} where scope = ${this.p(1)} and key = ${this.p(2)}`, [
      scope,
      key,
    ])) as { fingerprint: string; state: string; status: number | null; body: string | null }[];
    const row = rows[0];
    if (!row) return this.claim(scope, key, fingerprint, nowMs);
    if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (row.state !== 'done') return { kind: 'in-progress' };
    const stored = row.body === null ? {} : (JSON.parse(row.body) as { body?: unknown; headers?: Record<string, string> });
    return { kind: 'replay', response: { status: Number(row.status), body: stored.body, ...(stored.headers ? { headers: stored.headers } : {}) } };
  }

  /** Remembers the response for the rest of the TTL (from now). */
  async complete(scope: string, key: string, response: StoredResponse, nowMs: number): Promise<void> {
    await this.query(
      `update ${this.table} set state = 'done', status = ${this.p(1)}, body = ${this.p(2)}, expires_at = ${this.p(3)} where scope = ${this.p(4)} and key = ${this.p(5)}`,
      [response.status, JSON.stringify({ body: response.body, headers: response.headers ?? {} }), nowMs + this.ttlSeconds * 1000, scope, key],
    );
  }

  /** Forgets a claim whose request failed, so the client may retry with the same key. */
  async release(scope: string, key: string): Promise<void> {
    await this.query(`delete from ${this.table} where scope = ${this.p(1)} and key = ${this.p(2)} and state = 'pending'`, [scope, key]);
  }

  /**
   * Through the read-model connection gate: on SQLite the DataSource has a single connection that
   * projections use for their transactions, and a bare query could land inside one of them.
   */
  private query(sql: string, parameters?: unknown[]): Promise<unknown> {
    return withReadModelConnection(this.dataSource, (manager) => manager.query(sql, parameters));
  }

  private p(n: number): string {
    return this.pg ? `$${n}` : '?';
  }
}
