import {
  KurrentDBClient,
  type AllStreamSubscription,
  type AppendRecordInput,
  type ConsistencyCheck,
  type JSONType,
  type ReadStreamOptions as KurrentReadStreamOptions,
  type RecordedEvent as KurrentRecordedEvent,
} from '@kurrent/kurrentdb-client';
import {
  ConcurrencyConflictError,
  type AppendRequest,
  type AppendResult,
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
import { planAppends, resolveResults, type AppendPlan, type StoredEventRef, type StreamHead } from './append-planner';
import {
  EVENT_ID_CLAIM_TYPE,
  KurrentStreamNames,
  claimRecordId,
  decodeClaim,
  encodeData,
  encodeMetadata,
  exactExpectedState,
  isAppendConflict,
  isStreamNotFound,
  keepEvent,
  readAllStart,
  toConcurrencyConflict,
  toGlobalPosition,
  toKurrentEventId,
  toKurrentExpectedState,
  toRecordedEvent,
  toRevision,
  toServerFilter,
  translateUnsupported,
} from './kurrentdb-mapping';
import { AppendNotifier, SubscriptionRegistry, type SubscriptionTuning } from './polling-subscription';
import type { Upcasters } from './upcasters';

/*
 * Event store on KurrentDB (`@kurrent/kurrentdb-client`): production adapter, not wired into the
 * apps yet. Needs KurrentDB 26.1 or later. How streams, ids, metadata and positions map: see
 * kurrentdb-mapping.ts.
 *
 * Appends. Every append, single- or multi-stream, is one `appendRecords` call: an atomic write of
 * the events and of one claim record per event id, interleaved in request order, guarded by
 * consistency checks (each target stream is at the revision the plan was made against; each claim
 * stream does not exist yet). The port's rules (expectations, idempotent replays, partial overlaps,
 * requests for the same stream in one batch) are decided by the shared append planner against
 * state read just before; the checks make that decision atomic with the write. When a check fails
 * the state moved underneath: the state is read again and the plan redone, so `any` still appends
 * and an exact expectation gets the planner's conflict with the current revision. As in the SQL
 * adapters, the first attempt does not look the ids up (the claim checks catch a reused id); a
 * replay or conflict takes a second, fully checked attempt.
 *
 * `appendRecords` returns one position for the whole write, so the position of each result's last
 * event is read back from its stream (one read per request). Lookups cost one read per stream and,
 * on a checked attempt, two per event id: appends are slower than on PostgreSQL, in exchange for a
 * store that replicates.
 *
 * Subscriptions use the shared catch-up loop (polling-subscription.ts: batches, back-pressure,
 * retry of a rejected batch, caught-up signal) over `readAll`; one `subscribeToAll` per store,
 * filtered to the namespace, wakes the loops when anything is appended, by any process.
 */

export interface KurrentDbEventStoreOptions extends SubscriptionTuning {
  /** Streams live under `<namespace>/`, claims under `<namespace>-event-id/`. Default `meridian`. */
  readonly namespace?: string;
  readonly upcasters?: Upcasters;
  /** Reads run in parallel during lookups. Default 32. */
  readonly lookupConcurrency?: number;
  /** Plans tried before a contended append gives up. Default 10. */
  readonly maxAppendAttempts?: number;
  /** Errors of background work (the live wake-up subscription); reads and appends throw theirs. */
  readonly onBackgroundError?: (error: unknown) => void;
}

interface Lookup {
  readonly heads: Map<string, StreamHead>;
  readonly stored: Map<string, StoredEventRef>;
}

export class KurrentDbEventStore implements EventStore {
  private readonly names: KurrentStreamNames;
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions: SubscriptionRegistry;
  private watcher: AllStreamSubscription | null = null;
  private watcherRetry: NodeJS.Timeout | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly client: KurrentDBClient,
    private readonly options: KurrentDbEventStoreOptions = {},
  ) {
    this.names = new KurrentStreamNames(options.namespace);
    this.subscriptions = new SubscriptionRegistry(this, this.notifier, options);
  }

  /** A store on `connectionString` (`kurrentdb://host:2113?tls=false`): fails fast when unreachable. */
  static async connect(connectionString: string, options: KurrentDbEventStoreOptions = {}): Promise<KurrentDbEventStore> {
    const store = new KurrentDbEventStore(KurrentDBClient.connectionString(connectionString), options);
    try {
      await store.headPosition();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMany([{ streamName, events, expected: options.expected }]);
    return result;
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.assertOpen();
    if (requests.length === 0) return [];
    for (const request of requests) {
      this.names.toKurrent(request.streamName);
      toKurrentExpectedState(request.expected);
    }
    const streamNames = [...new Set(requests.map((r) => r.streamName))];
    const eventIds = [...new Set(requests.flatMap((r) => r.events.map((e) => e.eventId)))];
    const attempts = Math.max(2, this.options.maxAppendAttempts ?? 10);
    let lastConflict: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const optimistic = attempt === 0;
      const lookup = await this.lookup(streamNames, optimistic ? [] : eventIds);
      let plan: AppendPlan;
      try {
        plan = planAppends(requests, { streamHead: (name) => lookup.heads.get(name) ?? null, storedEvent: (id) => lookup.stored.get(id) });
      } catch (error) {
        // Without the ids looked up, a replay looks like a conflict; the checked attempt tells them apart.
        if (optimistic && error instanceof ConcurrencyConflictError) continue;
        throw error;
      }
      if (plan.rows.length === 0) return resolveResults(plan, []);
      try {
        await this.client.appendRecords(this.records(plan), this.checks(requests, plan, lookup));
      } catch (error) {
        if (!isAppendConflict(error)) throw translateUnsupported(error);
        lastConflict = error;
        // Writers racing for the same stream would otherwise retry in lockstep.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
        continue;
      }
      const positions = await this.rowPositions(plan);
      this.notifier.notify();
      return resolveResults(plan, positions);
    }
    // The streams kept moving between lookup and write on every attempt.
    const first = requests[0];
    throw toConcurrencyConflict(lastConflict, first.streamName, first.expected, this.names);
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    if (options.maxCount !== undefined && options.maxCount <= 0) return [];
    const records = await this.readRecords(this.names.toKurrent(streamName), {
      fromRevision: BigInt(options.fromRevision ?? 0),
      maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
    });
    const events: RecordedEvent[] = [];
    for (const record of records) {
      const event = toRecordedEvent(record, this.names);
      if (!event) continue;
      // Positions grow with revisions: the first one past the bound ends the read.
      if (options.toPosition !== undefined && event.position > options.toPosition) break;
      events.push(this.upcast(event));
    }
    return events;
  }

  async streamRevision(streamName: string): Promise<number | null> {
    this.assertOpen();
    const head = await this.streamHead(streamName);
    return head ? head.revision : null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const after = options.after ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    const serverSideExact = (options.filter?.types ?? []).length === 0;
    const events: RecordedEvent[] = [];
    const iterator = this.client.readAll({
      fromPosition: readAllStart(after),
      filter: toServerFilter(options.filter, this.names),
      // The start is inclusive (one more); with a type filter the server's result is refined here.
      ...(serverSideExact && Number.isFinite(limit) ? { maxCount: limit + 1 } : {}),
    });
    for await (const resolved of iterator) {
      if (!resolved.event) continue;
      const event = toRecordedEvent(resolved.event, this.names);
      if (!event || event.position <= after || !keepEvent(event, options.filter)) continue;
      events.push(this.upcast(event));
      if (events.length >= limit) break;
    }
    return events;
  }

  async findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    const found = await mapLimit([...new Set(eventIds)], this.concurrency, async (id) => ((await this.claimOf(id)) ? id : null));
    return new Set(found.filter((id): id is string => id !== null));
  }

  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    for await (const resolved of this.client.readAll({
      direction: 'backwards',
      fromPosition: 'end',
      maxCount: 1,
      filter: toServerFilter(undefined, this.names),
    })) {
      if (resolved.event?.position) return toGlobalPosition(resolved.event.position);
    }
    return 0;
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    this.assertOpen();
    const subscription = this.subscriptions.start(handler, options);
    this.ensureWatcher();
    return subscription;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.subscriptions.stopAll();
      this.closed = true;
      if (this.watcherRetry) clearTimeout(this.watcherRetry);
      const watcher = this.watcher;
      this.watcher = null;
      await watcher?.unsubscribe().catch(() => undefined);
      await this.client.dispose();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  private get concurrency(): number {
    return Math.max(1, this.options.lookupConcurrency ?? 32);
  }

  private async lookup(streamNames: readonly string[], eventIds: readonly string[]): Promise<Lookup> {
    const [heads, stored] = await Promise.all([
      mapLimit(streamNames, this.concurrency, async (name) => [name, await this.streamHead(name)] as const),
      mapLimit(eventIds, this.concurrency, async (id) => [id, await this.storedEvent(id)] as const),
    ]);
    return {
      heads: new Map(heads.filter((h): h is readonly [string, StreamHead] => h[1] !== null)),
      stored: new Map(stored.filter((s): s is readonly [string, StoredEventRef] => s[1] !== null)),
    };
  }

  private async streamHead(streamName: string): Promise<StreamHead | null> {
    const [last] = await this.readRecords(this.names.toKurrent(streamName), { direction: 'backwards', fromRevision: 'end', maxCount: 1 });
    return last ? this.headOf(last) : null;
  }

  private headOf(record: KurrentRecordedEvent): StreamHead {
    if (!record.position) throw new Error(`KurrentDB returned event ${record.id} of "${record.streamId}" without a position (server too old?)`);
    return { revision: toRevision(record.revision), position: toGlobalPosition(record.position) };
  }

  /** The claim of an id: which stream and revision hold it. */
  private async claimOf(eventId: string): Promise<{ streamName: string; revision: number } | null> {
    const [record] = await this.readRecords(this.names.claimStream(toKurrentEventId(eventId)), { maxCount: 1 });
    const claim = record ? decodeClaim(record.data) : null;
    // A derived UUID names the original id in the claim: a mismatch is a claim of another id.
    return claim && claim.eventId === eventId ? claim : null;
  }

  private async storedEvent(eventId: string): Promise<StoredEventRef | null> {
    const claim = await this.claimOf(eventId);
    if (!claim) return null;
    const [record] = await this.readRecords(this.names.toKurrent(claim.streamName), { fromRevision: BigInt(claim.revision), maxCount: 1 });
    // A claim is written atomically with its event, so the event is there unless the stream was deleted.
    if (!record) return null;
    return { streamName: claim.streamName, ...this.headOf(record) };
  }

  private records(plan: AppendPlan): AppendRecordInput[] {
    const records: AppendRecordInput[] = [];
    for (const row of plan.rows) {
      const kurrentId = toKurrentEventId(row.event.eventId);
      records.push({
        streamName: this.names.toKurrent(row.streamName),
        record: {
          id: kurrentId,
          contentType: 'application/json',
          type: row.event.type,
          data: encodeData(row.event.data) as JSONType,
          metadata: encodeMetadata(row.event),
        },
      });
      records.push({
        streamName: this.names.claimStream(kurrentId),
        record: {
          id: claimRecordId(kurrentId),
          contentType: 'application/json',
          type: EVENT_ID_CLAIM_TYPE,
          data: { streamName: row.streamName, revision: row.revision, eventId: row.event.eventId },
          metadata: undefined,
        },
      });
    }
    return records;
  }

  /** What the plan assumed, as checks the server evaluates atomically with the write. */
  private checks(requests: readonly AppendRequest[], plan: AppendPlan, lookup: Lookup): ConsistencyCheck[] {
    const checks = new Map<string, ConsistencyCheck>();
    for (const row of plan.rows) {
      if (checks.has(row.streamName)) continue;
      const head = lookup.heads.get(row.streamName);
      checks.set(row.streamName, {
        type: 'stream_state',
        streamName: this.names.toKurrent(row.streamName),
        expectedState: exactExpectedState(head ? head.revision : null),
      });
    }
    // An empty request writes nothing but its expectation still has to hold at commit.
    for (const request of requests) {
      if (request.events.length > 0 || checks.has(request.streamName)) continue;
      checks.set(request.streamName, {
        type: 'stream_state',
        streamName: this.names.toKurrent(request.streamName),
        expectedState: toKurrentExpectedState(request.expected),
      });
    }
    const claims: ConsistencyCheck[] = plan.rows.map((row) => ({
      type: 'stream_state',
      streamName: this.names.claimStream(toKurrentEventId(row.event.eventId)),
      expectedState: 'no_stream',
    }));
    return [...checks.values(), ...claims];
  }

  /** Positions of the rows the results point at (each request's last event), read back from their streams. */
  private async rowPositions(plan: AppendPlan): Promise<number[]> {
    const rows = [...new Set(plan.results.flatMap((r) => ('row' in r.position ? [r.position.row] : [])))];
    const positions = new Array<number>(plan.rows.length);
    await mapLimit(rows, this.concurrency, async (index) => {
      const row = plan.rows[index];
      const [record] = await this.readRecords(this.names.toKurrent(row.streamName), { fromRevision: BigInt(row.revision), maxCount: 1 });
      if (!record) throw new Error(`event ${row.event.eventId} appended to "${row.streamName}" at revision ${row.revision} cannot be read back`);
      positions[index] = this.headOf(record).position;
    });
    return positions;
  }

  /** Records of a KurrentDB stream; a missing stream reads empty. */
  private async readRecords(stream: string, options: KurrentReadStreamOptions): Promise<KurrentRecordedEvent[]> {
    const records: KurrentRecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(stream, options)) {
        if (resolved.event) records.push(resolved.event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return records;
  }

  /**
   * One live `$all` subscription per store, filtered to the namespace, wakes the catch-up loops on
   * appends from any process. Delivery itself goes through `readAll`, so a dropped watcher only
   * delays wake-ups to the slow poll until it is back.
   */
  private ensureWatcher(): void {
    if (this.closed || this.watcher) return;
    const watcher = this.client.subscribeToAll({ fromPosition: 'end', filter: toServerFilter(undefined, this.names) });
    this.watcher = watcher;
    const lost = (error: unknown) => {
      if (this.watcher !== watcher) return;
      this.watcher = null;
      watcher.removeAllListeners();
      watcher.on('error', () => undefined);
      void watcher.unsubscribe().catch(() => undefined);
      if (this.closed) return;
      this.options.onBackgroundError?.(error);
      if (!this.watcherRetry) {
        this.watcherRetry = setTimeout(() => {
          this.watcherRetry = null;
          if (this.subscriptions.size > 0) this.ensureWatcher();
        }, 1000);
        this.watcherRetry.unref();
      }
    };
    watcher.on('data', () => this.notifier.notify());
    // Appends made before the watcher was live are picked up now rather than at the next poll.
    watcher.on('confirmation', () => this.notifier.notify());
    watcher.on('error', lost);
    watcher.on('end', () => lost(new Error('KurrentDB wake-up subscription ended')));
  }

  private upcast(event: RecordedEvent): RecordedEvent {
    return this.options.upcasters ? this.options.upcasters.upcast(event) : event;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KurrentDbEventStore is closed');
  }
}

/** `fn` over `items` with at most `limit` calls running; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
