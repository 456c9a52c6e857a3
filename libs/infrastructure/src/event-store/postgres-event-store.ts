import { createHash } from 'node:crypto';
import { Client, Pool, type PoolClient, type QueryResultRow } from 'pg';
import {
  ConcurrencyConflictError,
  type AppendRequest,
  type AppendResult,
  type EventFilter,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
  type SubscriptionOptions,
} from '@meridian/domain';
import { planAppends, resolveResults, type StoredEventRef, type StreamHead } from './append-planner';
import { AppendNotifier, SubscriptionRegistry, type SubscriptionTuning } from './polling-subscription';
import type { Upcasters } from './upcasters';

/*
 * Global order. A reader that has seen position P must never later see an event below P. With a
 * bare bigserial that breaks: transaction A takes position 10, B takes 11 and commits first, a
 * reader sees 11 and moves its checkpoint past 10, then A commits and 10 is never delivered.
 *
 * Choice: appends are serialised. Each append transaction takes `pg_advisory_xact_lock` (one key per
 * schema) before it reads stream revisions or allocates positions, and holds it until commit. A
 * transaction's commit becomes visible before its locks are released, so the next writer allocates
 * higher positions and commits later: positions become visible strictly in order, and plain
 * `position > checkpoint` reads are safe. The alternative (store `pg_current_xact_id()` and expose
 * only rows below the snapshot's xmin) lets writers overlap but delays every reader behind the
 * oldest open transaction anywhere in the database, and complicates every read. Serialising costs
 * little here because throughput comes from group commit: `appendMany` writes a whole batch in one
 * transaction with one multi-row INSERT, so the lock is taken once per batch, not per event. The
 * lock also makes the revision check and the insert one atomic step. The price: one-event appends
 * from concurrent writers queue behind each other (about one commit latency each), so callers with
 * many events batch them (ingestion does).
 *
 * The transaction is short and never waits on unrelated IO: lookups, one INSERT, commit, sent in
 * two pipelined flights with prepared statements. JSON is encoded before the transaction opens. `idle_in_transaction_session_timeout` makes PostgreSQL end
 * a session that leaves a transaction open (a stalled client must not hold the append lock).
 */

export interface PostgresEventStoreOptions extends SubscriptionTuning {
  /** Schema holding the tables (created if missing). Default `public`. */
  readonly schema?: string;
  readonly upcasters?: Upcasters;
  /** Pool size. Appends are serialised anyway; reads and subscriptions use the rest. Default 10. */
  readonly poolSize?: number;
  /** PostgreSQL ends a session idle inside a transaction for longer than this. Default 10 s. */
  readonly idleInTransactionTimeoutMs?: number;
  /** Errors of background work (the LISTEN connection); reads and appends throw theirs. */
  readonly onBackgroundError?: (error: unknown) => void;
  /**
   * Test hook: runs inside the append transaction after the INSERT, before COMMIT, holding the
   * append lock. Lets tests hold a writer open to prove readers cannot skip its events.
   */
  readonly beforeCommit?: (positions: readonly number[]) => Promise<void>;
}

interface EventRow extends QueryResultRow {
  position: string;
  stream_name: string;
  revision: number;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  schema_version: number;
  recorded_at: Date;
}

interface LookupRow extends QueryResultRow {
  event_id: string | null;
  stream_name: string;
  revision: number;
  position: string;
}

const COLUMNS = 'position, stream_name, revision, event_id, type, data, metadata, schema_version, recorded_at';
const UNIQUE_VIOLATION = '23505';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A stable 64-bit advisory lock key for `purpose` in `schema` (as a decimal string). */
function lockKey(purpose: string, schema: string): string {
  return createHash('sha1').update(`meridian:${purpose}:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * Creates the event store tables in `schema` if they are missing. Idempotent and safe to run from
 * several processes at once (serialised by an advisory lock).
 */
export async function migratePostgresEventStore(client: Pick<PoolClient, 'query'>, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(${lockKey('migrate', schema)})`);
    await client.query(`create schema if not exists ${s}`);
    // `json`, not `jsonb`: it keeps the text as written (key order, number spelling), so data and
    // metadata read back exactly as appended; the store never queries inside them.
    await client.query(`
      create table if not exists ${s}.events (
        position bigint generated always as identity primary key,
        stream_name text not null,
        revision integer not null,
        event_id text not null,
        type text not null,
        data json not null,
        metadata json not null,
        schema_version integer not null default 1,
        recorded_at timestamptz not null default now(),
        constraint events_stream_revision_key unique (stream_name, revision),
        constraint events_event_id_key unique (event_id)
      )`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Event store in PostgreSQL (`pg` pool): production adapter. See the note above on global order. */
export class PostgresEventStore implements EventStore {
  readonly schema: string;
  private readonly pool: Pool;
  private readonly options: PostgresEventStoreOptions;
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions: SubscriptionRegistry;
  private readonly channel: string;
  private readonly sql: ReturnType<typeof statements>;
  private migrated: Promise<void> | null = null;
  private listener: Client | null = null;
  private listenerStarting = false;
  private listenerRetry: NodeJS.Timeout | null = null;
  private closed = false;
  /** Subscriptions are stopped (handlers finish) before the store closes; repeated calls share it. */
  private closing: Promise<void> | null = null;

  constructor(
    private readonly connectionString: string,
    schemaOrOptions: string | PostgresEventStoreOptions = {},
  ) {
    this.options = typeof schemaOrOptions === 'string' ? { schema: schemaOrOptions } : schemaOrOptions;
    this.schema = this.options.schema ?? 'public';
    if (this.schema.length === 0 || Buffer.byteLength(this.schema) > 63) {
      throw new RangeError(`schema name must be 1 to 63 bytes, got "${this.schema}"`);
    }
    // Derived, so it is a plain lower-case identifier whatever the schema is called.
    this.channel = `meridian_events_${createHash('sha1').update(this.schema).digest('hex').slice(0, 16)}`;
    this.sql = statements(quoteIdent(this.schema), lockKey('append', this.schema), this.channel);
    this.pool = new Pool({
      connectionString,
      max: this.options.poolSize ?? 10,
      idle_in_transaction_session_timeout: this.options.idleInTransactionTimeoutMs ?? 10_000,
      application_name: 'meridian-event-store',
      // Appends send their statements in two flights instead of five round trips.
      pipeline: true,
    });
    // An idle pooled client that loses its connection emits here; without a listener it would crash the process.
    this.pool.on('error', (error) => this.options.onBackgroundError?.(error));
    this.subscriptions = new SubscriptionRegistry(this, this.notifier, this.options);
  }

  /** A store whose tables exist: fails fast (at boot) when the database is unreachable. */
  static async connect(connectionString: string, schemaOrOptions: string | PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(connectionString, schemaOrOptions);
    try {
      await store.init();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Creates the tables if missing; every operation awaits it, so calling it is optional. */
  init(): Promise<void> {
    if (!this.migrated) {
      this.migrated = (async () => {
        const client = await this.pool.connect();
        try {
          await migratePostgresEventStore(client, this.schema);
        } finally {
          client.release();
        }
      })();
      // A failed migration (database down at boot) is retried by the next operation.
      this.migrated.catch(() => (this.migrated = null));
    }
    return this.migrated;
  }

  async append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMany([{ streamName, events, expected: options.expected }]);
    return result;
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.assertOpen();
    if (requests.length === 0) return [];
    await this.init();
    // Encoded before the transaction opens, so the append lock is held as briefly as possible.
    const encoded = new Map<NewEvent, { data: string; metadata: string }>();
    const streamNames = new Set<string>();
    const eventIds: string[] = [];
    for (const request of requests) {
      streamNames.add(request.streamName);
      for (const event of request.events) {
        eventIds.push(event.eventId);
        encoded.set(event, { data: JSON.stringify(event.data) ?? 'null', metadata: JSON.stringify(event.metadata) });
      }
    }
    const names = [...streamNames];
    // Optimistic first: the ids are not looked up, the UNIQUE(event_id) constraint reports a stored
    // one. Replays and conflicts are rare, and they take the second, fully checked attempt, which
    // tells a duplicate from a conflict. This keeps the common append at one index probe per stream.
    try {
      return await this.appendOnce(requests, names, [], encoded);
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError) && !isUniqueViolation(error)) throw error;
    }
    try {
      return await this.appendOnce(requests, names, eventIds, encoded);
    } catch (error) {
      // Under the append lock the checked attempt cannot hit a unique violation, unless something
      // writes without the lock; once more, it sees those rows and answers properly.
      if (!isUniqueViolation(error)) throw error;
      return this.appendOnce(requests, names, eventIds, encoded);
    }
  }

  private async appendOnce(
    requests: readonly AppendRequest[],
    streamNames: string[],
    /** Ids to look up; empty for the optimistic attempt. */
    eventIds: string[],
    encoded: Map<NewEvent, { data: string; metadata: string }>,
  ): Promise<AppendResult[]> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // Round trip 1 (pipelined): open the transaction, take the append lock, look up. The lookup
      // is its own statement, so its snapshot is taken after the lock is granted and sees every
      // append committed before.
      const [, , lookup] = await settled([
        client.query('begin'),
        client.query(this.sql.lock),
        client.query<LookupRow>({ name: 'meridian_es_lookup', text: this.sql.lookup, values: [streamNames, eventIds] }),
      ]);
      const heads = new Map<string, StreamHead>();
      const stored = new Map<string, StoredEventRef>();
      for (const row of lookup.rows) {
        const ref = { streamName: row.stream_name, revision: row.revision, position: Number(row.position) };
        if (row.event_id === null) heads.set(row.stream_name, ref);
        else stored.set(row.event_id, ref);
      }
      const plan = planAppends(requests, {
        streamHead: (name) => heads.get(name) ?? null,
        storedEvent: (id) => stored.get(id),
      });
      if (plan.rows.length === 0) {
        await client.query('commit');
        return resolveResults(plan, []);
      }
      const n = plan.rows.length;
      const streams = new Array<string>(n);
      const revisions = new Array<number>(n);
      const ids = new Array<string>(n);
      const types = new Array<string>(n);
      const data = new Array<string>(n);
      const metadata = new Array<string>(n);
      const versions = new Array<number>(n);
      plan.rows.forEach((row, i) => {
        const json = encoded.get(row.event)!;
        streams[i] = row.streamName;
        revisions[i] = row.revision;
        ids[i] = row.event.eventId;
        types[i] = row.event.type;
        data[i] = json.data;
        metadata[i] = json.metadata;
        versions[i] = row.event.schemaVersion ?? 1;
      });
      const insert = client.query<{ position: string }>({
        name: 'meridian_es_insert',
        text: this.sql.insert,
        values: [streams, revisions, ids, types, data, metadata, versions],
      });
      let inserted: { rows: Array<{ position: string }> };
      if (this.options.beforeCommit) {
        inserted = await insert;
        await this.options.beforeCommit(inserted.rows.map((r) => Number(r.position)));
        await settled([client.query(this.sql.notify), client.query('commit')]);
      } else {
        // Round trip 2 (pipelined): insert, notify (delivered at commit), commit. If the insert
        // fails, the statements after it fail too (aborted transaction) and nothing is committed.
        [inserted] = await settled([insert, client.query(this.sql.notify), client.query('commit')]);
      }
      // RETURNING yields the rows in `ord` order, the order positions were drawn in.
      const positions = inserted.rows.map((r) => Number(r.position));
      this.notifier.notify();
      return resolveResults(plan, positions);
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    await this.init();
    const { rows } = await this.pool.query<EventRow>(this.sql.readStream, [
      streamName,
      options.fromRevision ?? 0,
      options.toPosition ?? null,
      options.maxCount ?? null,
    ]);
    return rows.map((r) => this.toRecorded(r));
  }

  async streamRevision(streamName: string): Promise<number | null> {
    this.assertOpen();
    await this.init();
    const { rows } = await this.pool.query<{ revision: number }>(this.sql.streamRevision, [streamName]);
    return rows.length > 0 ? rows[0].revision : null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    await this.init();
    const params: unknown[] = [options.after ?? 0, options.limit ?? null];
    const where = filterSql(options.filter, params);
    const { rows } = await this.pool.query<EventRow>(
      `select ${COLUMNS} from ${this.sql.events} where position > $1${where} order by position limit $2`,
      params,
    );
    return rows.map((r) => this.toRecorded(r));
  }

  async findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    if (eventIds.length === 0) return new Set();
    await this.init();
    const { rows } = await this.pool.query<{ event_id: string }>(this.sql.existingIds, [eventIds]);
    return new Set(rows.map((r) => r.event_id));
  }

  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    await this.init();
    const { rows } = await this.pool.query<{ head: string }>(this.sql.head);
    return Number(rows[0].head);
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    this.assertOpen();
    const subscription = this.subscriptions.start(handler, options);
    this.ensureListener();
    return subscription;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.subscriptions.stopAll();
      this.closed = true;
      if (this.listenerRetry) clearTimeout(this.listenerRetry);
      const listener = this.listener;
      this.listener = null;
      await listener?.end().catch(() => undefined);
      await this.pool.end();
    })();
    return this.closing;
  }


  /**
   * One LISTEN connection per store wakes its subscriptions when any process appends. If it
   * drops, the slow poll keeps subscriptions going until it is back.
   */
  private ensureListener(): void {
    if (this.closed || this.listener || this.listenerStarting) return;
    this.listenerStarting = true;
    const client = new Client({ connectionString: this.connectionString, application_name: 'meridian-event-store-listen' });
    const lost = (error: unknown) => {
      if (this.listener === client) this.listener = null;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.options.onBackgroundError?.(error);
      if (!this.listenerRetry) {
        this.listenerRetry = setTimeout(() => {
          this.listenerRetry = null;
          if (this.subscriptions.size > 0) this.ensureListener();
        }, 1000);
        this.listenerRetry.unref();
      }
    };
    client.on('notification', () => this.notifier.notify());
    client.on('error', lost);
    client.on('end', () => lost(new Error('LISTEN connection ended')));
    client
      .connect()
      .then(() => client.query(`listen ${this.sql.channel}`))
      .then(() => {
        this.listenerStarting = false;
        if (this.closed) {
          client.removeAllListeners();
          void client.end().catch(() => undefined);
          return;
        }
        this.listener = client;
        // Appends made while the listener was down are picked up now rather than at the next poll.
        this.notifier.notify();
      })
      .catch((error: unknown) => {
        this.listenerStarting = false;
        lost(error);
      });
  }

  private toRecorded(row: EventRow): RecordedEvent {
    const event: RecordedEvent = {
      streamName: row.stream_name,
      revision: row.revision,
      position: Number(row.position),
      eventId: row.event_id,
      type: row.type,
      data: row.data,
      metadata: row.metadata,
      schemaVersion: row.schema_version,
      recordedAt: row.recorded_at.toISOString(),
    };
    return this.options.upcasters ? this.options.upcasters.upcast(event) : event;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('PostgresEventStore is closed');
  }
}

function statements(schema: string, appendLockKey: string, channel: string) {
  const events = `${schema}.events`;
  return {
    events,
    channel,
    lock: `select pg_advisory_xact_lock(${appendLockKey})`,
    notify: `select pg_notify('${channel}', '')`,
    // Stream heads (event_id null) and stored copies of the ids, in one round trip.
    lookup: `
      select null::text as event_id, s.name as stream_name, h.revision, h.position
        from unnest($1::text[]) as s(name)
        cross join lateral (
          select revision, position from ${events} e where e.stream_name = s.name order by revision desc limit 1
        ) h
      union all
      select event_id, stream_name, revision, position from ${events} where event_id = any($2::text[])`,
    // One statement for the whole batch; positions are drawn in `ord` order. recorded_at is taken
    // after the append lock (not now(), the transaction start), so it grows with the positions.
    insert: `
      insert into ${events} (stream_name, revision, event_id, type, data, metadata, schema_version, recorded_at)
      select stream_name, revision, event_id, type, data::json, metadata::json, schema_version, statement_timestamp()
        from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
          with ordinality as t(stream_name, revision, event_id, type, data, metadata, schema_version, ord)
        order by ord
      returning position`,
    readStream: `
      select ${COLUMNS} from ${events}
       where stream_name = $1 and revision >= $2 and ($3::bigint is null or position <= $3)
       order by revision limit $4`,
    streamRevision: `select revision from ${events} where stream_name = $1 order by revision desc limit 1`,
    existingIds: `select event_id from ${events} where event_id = any($1::text[])`,
    head: `select coalesce(max(position), 0) as head from ${events}`,
  };
}

/** Filter conditions appended to `params` (`^@` is PostgreSQL's starts-with operator). */
function filterSql(filter: EventFilter | undefined, params: unknown[]): string {
  let sql = '';
  const prefixes = filter?.streamPrefixes ?? [];
  if (prefixes.length > 0) {
    params.push(prefixes);
    sql += ` and stream_name ^@ any($${params.length}::text[])`;
  }
  const types = filter?.types ?? [];
  if (types.length > 0) {
    const exact = types.filter((t) => !t.endsWith('*'));
    const prefixed = types.filter((t) => t.endsWith('*')).map((t) => t.slice(0, -1));
    const parts: string[] = [];
    if (exact.length > 0) {
      params.push(exact);
      parts.push(`type = any($${params.length}::text[])`);
    }
    if (prefixed.length > 0) {
      params.push(prefixed);
      parts.push(`type ^@ any($${params.length}::text[])`);
    }
    sql += ` and (${parts.join(' or ')})`;
  }
  return sql;
}

/**
 * Awaits pipelined queries together: all of them settle (no unhandled rejection), then the first
 * failure in send order is thrown (later ones only report the aborted transaction).
 */
async function settled<T extends readonly unknown[]>(queries: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(queries);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === UNIQUE_VIOLATION;
}
