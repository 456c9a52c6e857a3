import Database from 'better-sqlite3';
import {
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
import { TailCache } from './tail-cache';
import { planAppends, resolveResults, type AppendLookup, type StoredEventRef, type StreamHead } from './append-planner';
import { AppendNotifier, SubscriptionRegistry, type SubscriptionTuning } from './polling-subscription';
import type { Upcasters } from './upcasters';

export interface SqliteEventStoreOptions extends SubscriptionTuning {
  readonly upcasters?: Upcasters;
  /**
   * `FULL` (default): a commit is fsynced before `append` returns, so an acknowledged event
   * survives a crash of the process and of the machine (power loss, kernel panic). `NORMAL` in WAL
   * mode survives a killed process but may lose the last commits on an OS crash; choose it only
   * where that loss is acceptable. Group commit (`appendMany`) pays the fsync once per batch.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Page cache of the connection. Default 32 MiB. */
  readonly cacheSizeKiB?: number;
  /** How long a reader or writer waits for another connection's lock (another process reading). */
  readonly busyTimeoutMs?: number;
  /** Clock for `recordedAt`. */
  readonly now?: () => Date;
  /** Newest appended events kept decoded in memory for readers (see TailCache). Default 20,000; 0 disables. */
  readonly tailCacheEvents?: number;
}

interface EventRow {
  position: number;
  stream_name: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  schema_version: number;
  recorded_at: string;
}

const COLUMNS = 'position, stream_name, revision, event_id, type, data, metadata, schema_version, recorded_at';

/**
 * Schema. `AUTOINCREMENT` makes the global position strictly increasing and never reused, even
 * after the highest row is gone (plain rowids may reuse it). SQLite has one writer at a time and
 * allocates positions inside the write transaction, so positions become visible in commit order:
 * the global-order invariant holds without further work. One process writes (the embedded
 * deployment); other connections may read.
 */
const MIGRATION = `
  create table if not exists events (
    position integer primary key autoincrement,
    stream_name text not null,
    revision integer not null,
    event_id text not null,
    type text not null,
    data text not null,
    metadata text not null,
    schema_version integer not null default 1,
    recorded_at text not null,
    unique (stream_name, revision),
    unique (event_id)
  );
`;

/** Event store in an SQLite file (better-sqlite3; WAL): the embedded default. */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions: SubscriptionRegistry;
  private readonly readAllStatements = new Map<string, Database.Statement<unknown[], EventRow>>();
  private readonly statements: ReturnType<SqliteEventStore['prepare']>;
  private readonly writeBatch: (requests: readonly AppendRequest[], recordedAt: string) => { results: AppendResult[]; committed: RecordedEvent[] };
  private readonly tail: TailCache;
  private closed = false;
  /** Subscriptions are stopped (handlers finish) before the store closes; repeated calls share it. */
  private closing: Promise<void> | null = null;

  constructor(
    readonly filename: string,
    private readonly options: SqliteEventStoreOptions = {},
  ) {
    this.db = new Database(filename);
    // Only takes effect on a new file. Rows are about 1 KB and both unique indexes take random
    // keys (uuids, stream names); 16 KiB pages roughly double batched append throughput over the
    // 4 KiB default here (measured with bench/store.bench.ts's raw inserts).
    this.db.pragma('page_size = 16384');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma(`cache_size = ${-Math.max(1024, Math.floor(options.cacheSizeKiB ?? 32 * 1024))}`);
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    this.db.exec(MIGRATION);
    this.statements = this.prepare();
    this.subscriptions = new SubscriptionRegistry(this, this.notifier, options);

    const { insert, streamHead, storedEvent } = this.statements;
    const lookup: AppendLookup = {
      streamHead: (name) => streamHead.get(name) ?? null,
      storedEvent: (id) => storedEvent.get(id),
    };
    // IMMEDIATE takes the write lock up front: the lookups and the inserts see one state.
    this.tail = new TailCache(options.tailCacheEvents ?? 20_000);
    const transaction = this.db.transaction((requests: readonly AppendRequest[], recordedAt: string) => {
      const plan = planAppends(requests, lookup);
      const positions = new Array<number>(plan.rows.length);
      const committed: RecordedEvent[] = [];
      for (let i = 0; i < plan.rows.length; i++) {
        const { streamName, revision, event } = plan.rows[i];
        const data = JSON.stringify(event.data) ?? 'null';
        const metadata = JSON.stringify(event.metadata);
        const schemaVersion = event.schemaVersion ?? 1;
        const info = insert.run(streamName, revision, event.eventId, event.type, data, metadata, schemaVersion, recordedAt);
        positions[i] = Number(info.lastInsertRowid);
        // Decoded from the stored text, exactly as a reader of the row would get it.
        committed.push(this.toRecorded({ position: positions[i], stream_name: streamName, revision, event_id: event.eventId, type: event.type, data, metadata, schema_version: schemaVersion, recorded_at: recordedAt }));
      }
      return { results: resolveResults(plan, positions), committed };
    });
    this.writeBatch = (requests, recordedAt) => transaction.immediate(requests, recordedAt);
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare<[string, number, string, string, string, string, number, string]>(
        'insert into events (stream_name, revision, event_id, type, data, metadata, schema_version, recorded_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      streamHead: db.prepare<[string], StreamHead>(
        'select revision, position from events where stream_name = ? order by revision desc limit 1',
      ),
      storedEvent: db.prepare<[string], StoredEventRef>(
        'select stream_name as streamName, revision, position from events where event_id = ?',
      ),
      eventExists: db.prepare<[string], { found: number }>('select 1 as found from events where event_id = ?'),
      readStream: db.prepare<[string, number, number, number], EventRow>(
        `select ${COLUMNS} from events where stream_name = ? and revision >= ? and position <= ? order by revision limit ?`,
      ),
      head: db.prepare<[], { head: number | null }>('select max(position) as head from events'),
    };
  }

  async append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMany([{ streamName, events, expected: options.expected }]);
    return result;
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.assertOpen();
    const { results, committed } = this.writeBatch(requests, (this.options.now?.() ?? new Date()).toISOString());
    // Only once the transaction has committed: a rolled-back batch never reaches readers.
    this.tail.add(committed.sort((a, b) => a.position - b.position));
    if (results.some((r) => !r.duplicate)) this.notifier.notify();
    return results;
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const rows = this.statements.readStream.all(
      streamName,
      options.fromRevision ?? 0,
      options.toPosition ?? Number.MAX_SAFE_INTEGER,
      options.maxCount ?? -1, // LIMIT -1: no limit
    );
    return rows.map((r) => this.toRecorded(r));
  }

  async streamRevision(streamName: string): Promise<number | null> {
    this.assertOpen();
    return this.statements.streamHead.get(streamName)?.revision ?? null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const cached = this.tail.read(options);
    if (cached === null) return this.readAllFromDatabase(options);
    if (cached.complete) return cached.events;
    const limit = options.limit === undefined ? undefined : options.limit - cached.events.length;
    const beyond = await this.readAllFromDatabase({ ...options, after: cached.lastPosition, ...(limit !== undefined && { limit }) });
    return beyond.length === 0 ? cached.events : [...cached.events, ...beyond];
  }

  private readAllFromDatabase(options: ReadAllOptions): RecordedEvent[] {
    const { sql, params } = filterSql(options.filter);
    let statement = this.readAllStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], EventRow>(
        `select ${COLUMNS} from events where position > ?${sql} order by position limit ?`,
      );
      // Keyed by the filter's shape (how many prefixes and types), so the cache stays small.
      this.readAllStatements.set(sql, statement);
    }
    const rows = statement.all(options.after ?? 0, ...params, options.limit ?? -1);
    return rows.map((r) => this.toRecorded(r));
  }

  async findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    const found = new Set<string>();
    for (const id of eventIds) if (this.statements.eventExists.get(id)) found.add(id);
    return found;
  }

  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    return this.statements.head.get()?.head ?? 0;
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    this.assertOpen();
    return this.subscriptions.start(handler, options);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.subscriptions.stopAll();
      this.closed = true;
      this.db.close();
    })();
    return this.closing;
  }


  private toRecorded(row: EventRow): RecordedEvent {
    const event: RecordedEvent = {
      streamName: row.stream_name,
      revision: row.revision,
      position: row.position,
      eventId: row.event_id,
      type: row.type,
      data: JSON.parse(row.data) as unknown,
      metadata: JSON.parse(row.metadata) as EventMetadata,
      schemaVersion: row.schema_version,
      recordedAt: row.recorded_at,
    };
    return this.options.upcasters ? this.options.upcasters.upcast(event) : event;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteEventStore is closed');
  }
}

/** SQL conditions for a filter (prefix matches with `instr(x, p) = 1`: no LIKE escaping needed). */
function filterSql(filter: EventFilter | undefined): { sql: string; params: string[] } {
  const params: string[] = [];
  let sql = '';
  const prefixes = filter?.streamPrefixes ?? [];
  if (prefixes.length > 0) {
    sql += ` and (${prefixes.map(() => 'instr(stream_name, ?) = 1').join(' or ')})`;
    params.push(...prefixes);
  }
  const types = filter?.types ?? [];
  if (types.length > 0) {
    const parts = types.map((t) => {
      if (t.endsWith('*')) {
        params.push(t.slice(0, -1));
        return 'instr(type, ?) = 1';
      }
      params.push(t);
      return 'type = ?';
    });
    sql += ` and (${parts.join(' or ')})`;
  }
  return { sql, params };
}
