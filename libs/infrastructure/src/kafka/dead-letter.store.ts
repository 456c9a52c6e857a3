import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import { inWriteTransaction, withReadModelConnection } from '../read-models/read-model-transactions';
import { DEAD_LETTER_HEADERS } from './dead-letter.publisher';
import { headerText } from './kafka-messages';

/** A dead-lettered message as operators see it (`GET /api/v1/admin/dead-letters`). */
export interface DeadLetter {
  /** `<dlq partition>-<dlq offset>`: stable, so recording the same DLQ message twice is one row. */
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly consumerGroup: string | null;
  readonly key: string | null;
  /** The message value as text (UTF-8); `valueBase64` is exact when it is not text. */
  readonly value: string | null;
  readonly valueBase64: string | null;
  readonly headers: Record<string, string>;
  readonly error: { readonly code: string; readonly detail: string };
  readonly attempts: number;
  readonly failedAt: string;
  readonly retriedAt: string | null;
  readonly retryCount: number;
}

interface Row {
  id: string;
  topic: string;
  partition: number | string;
  offset: string;
  consumer_group: string | null;
  key_b64: string | null;
  value_b64: string | null;
  headers: string;
  error_code: string;
  error: string;
  attempts: number | string;
  failed_at: string;
  retried_at: string | null;
  retry_count: number | string;
}

const OWN_HEADERS = new Set<string>(Object.values(DEAD_LETTER_HEADERS));

/**
 * The dead letters, read from `meridian.dlq` into a table beside the read models (the topic is the
 * record; the table is what the admin API lists, and what a retry reads the original message from).
 * Like process checkpoints it is never rebuilt.
 */
export class DeadLetterStore {
  private readonly pg: boolean;
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    this.pg = dataSource.options.type === 'postgres';
    const schema = this.pg ? (dataSource.options as { schema?: string }).schema : undefined;
    this.table = schema ? `"${schema.replace(/"/g, '""')}".dead_letters` : 'dead_letters';
  }

  async init(): Promise<void> {
    const create = async (manager: EntityManager) => {
      if (this.pg) await manager.query(`select pg_advisory_xact_lock(hashtext($1))`, [`meridian-dead-letters:${this.table}`]);
      await manager.query(
        `create table if not exists ${this.table} (
          id text primary key, topic text not null, partition integer not null, "offset" text not null, consumer_group text,
          key_b64 text, value_b64 text, headers text not null, error_code text not null, error text not null,
          attempts integer not null, failed_at text not null, retried_at text, retry_count integer not null default 0)`,
      );
    };
    await (this.pg ? inWriteTransaction(this.dataSource, create) : withReadModelConnection(this.dataSource, create));
  }

  /** Records a message of the DLQ topic (idempotent: the same DLQ message is one row). */
  async record(dlqPartition: number, message: KafkaMessage): Promise<void> {
    const headers: Record<string, string> = {};
    for (const name of Object.keys(message.headers ?? {})) {
      if (OWN_HEADERS.has(name)) continue;
      const value = message.headers?.[name];
      const first = Array.isArray(value) ? value[0] : value;
      if (first !== undefined) headers[name] = Buffer.from(first).toString('base64');
    }
    const h = (name: string) => headerText(message.headers as IHeaders, name);
    await this.query(
      `insert into ${this.table} (id, topic, partition, "offset", consumer_group, key_b64, value_b64, headers, error_code, error, attempts, failed_at)
       values (${this.params(12)}) on conflict (id) do nothing`,
      [
        `${dlqPartition}-${message.offset}`,
        h(DEAD_LETTER_HEADERS.topic) ?? 'unknown',
        Number(h(DEAD_LETTER_HEADERS.partition) ?? -1),
        h(DEAD_LETTER_HEADERS.offset) ?? '-1',
        h(DEAD_LETTER_HEADERS.consumerGroup) ?? null,
        message.key === null ? null : message.key.toString('base64'),
        message.value === null ? null : message.value.toString('base64'),
        JSON.stringify(headers),
        h(DEAD_LETTER_HEADERS.errorCode) ?? 'UNKNOWN_ERROR',
        h(DEAD_LETTER_HEADERS.error) ?? '',
        Number(h(DEAD_LETTER_HEADERS.attempts) ?? 1),
        h(DEAD_LETTER_HEADERS.failedAt) ?? new Date(Number(message.timestamp)).toISOString(),
      ],
    );
  }

  /** Oldest first; `after` is the id of the last item of the previous page. */
  async list(options: { limit: number; after?: string }): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const rows = (await this.query(
      options.after === undefined
        ? `select * from ${this.table} order by failed_at, id limit ${this.p(1)}`
        : `select * from ${this.table} where (failed_at, id) > (select failed_at, id from ${this.table} where id = ${this.p(2)}) order by failed_at, id limit ${this.p(1)}`,
      options.after === undefined ? [options.limit + 1] : [options.limit + 1, options.after],
    )) as Row[];
    const items = rows.slice(0, options.limit).map(toDeadLetter);
    return { items, nextCursor: rows.length > options.limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  async get(id: string): Promise<DeadLetter | null> {
    const rows = (await this.query(`select * from ${this.table} where id = ${this.p(1)}`, [id])) as Row[];
    return rows.length === 0 ? null : toDeadLetter(rows[0] as Row);
  }

  /** The original message, exactly as it was consumed (for a retry). */
  async original(id: string): Promise<{ topic: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> } | null> {
    const rows = (await this.query(`select * from ${this.table} where id = ${this.p(1)}`, [id])) as Row[];
    const row = rows[0];
    if (row === undefined) return null;
    const headers = Object.fromEntries(Object.entries(JSON.parse(row.headers) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    return { topic: row.topic, key: row.key_b64 === null ? null : Buffer.from(row.key_b64, 'base64'), value: row.value_b64 === null ? null : Buffer.from(row.value_b64, 'base64'), headers };
  }

  async markRetried(id: string, at: string): Promise<void> {
    await this.query(`update ${this.table} set retried_at = ${this.p(1)}, retry_count = retry_count + 1 where id = ${this.p(2)}`, [at, id]);
  }

  private query(sql: string, parameters?: unknown[]): Promise<unknown> {
    return withReadModelConnection(this.dataSource, (manager) => manager.query(sql, parameters));
  }

  private p(n: number): string {
    return this.pg ? `$${n}` : '?';
  }

  private params(count: number): string {
    return Array.from({ length: count }, (_, i) => this.p(i + 1)).join(', ');
  }
}

function toDeadLetter(row: Row): DeadLetter {
  const raw = row.headers === '' ? {} : (JSON.parse(row.headers) as Record<string, string>);
  const value = row.value_b64 === null ? null : Buffer.from(row.value_b64, 'base64');
  const text = value === null ? null : value.toString('utf8');
  return {
    id: row.id,
    topic: row.topic,
    partition: Number(row.partition),
    offset: row.offset,
    consumerGroup: row.consumer_group,
    key: row.key_b64 === null ? null : Buffer.from(row.key_b64, 'base64').toString('utf8'),
    value: text !== null && Buffer.from(text, 'utf8').equals(value as Buffer) ? text : null,
    valueBase64: row.value_b64,
    headers: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])),
    error: { code: row.error_code, detail: row.error },
    attempts: Number(row.attempts),
    failedAt: row.failed_at,
    retriedAt: row.retried_at,
    retryCount: Number(row.retry_count),
  };
}
