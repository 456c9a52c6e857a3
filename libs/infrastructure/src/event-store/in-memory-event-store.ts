import {
  matchesFilter,
  type AppendRequest,
  type AppendResult,
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
import { planAppends, resolveResults, type AppendLookup } from './append-planner';
import { AppendNotifier, SubscriptionRegistry, type SubscriptionTuning } from './polling-subscription';
import type { Upcasters } from './upcasters';

export interface InMemoryEventStoreOptions extends SubscriptionTuning {
  readonly upcasters?: Upcasters;
  /** Clock for `recordedAt`. */
  readonly now?: () => Date;
}

/** Data and metadata are kept as JSON text, exactly as the persistent adapters keep them. */
interface StoredRow {
  readonly position: number;
  readonly streamName: string;
  readonly revision: number;
  readonly eventId: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly schemaVersion: number;
  readonly recordedAt: string;
}

/**
 * The event store in process memory, for unit tests and throwaway runs: the same contract and the
 * same append rules as the persistent adapters (it passes the same conformance suite), no IO.
 * Events go through JSON on the way in, so what a test reads back is what a real store returns.
 */
export class InMemoryEventStore implements EventStore {
  private readonly rows: StoredRow[] = [];
  private readonly streams = new Map<string, StoredRow[]>();
  private readonly byId = new Map<string, StoredRow>();
  private readonly notifier = new AppendNotifier();
  private readonly subscriptions: SubscriptionRegistry;
  private closed = false;
  /** Subscriptions are stopped (handlers finish) before the store closes; repeated calls share it. */
  private closing: Promise<void> | null = null;

  constructor(private readonly options: InMemoryEventStoreOptions = {}) {
    this.subscriptions = new SubscriptionRegistry(this, this.notifier, options);
  }

  async append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMany([{ streamName, events, expected: options.expected }]);
    return result;
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.assertOpen();
    const lookup: AppendLookup = {
      streamHead: (name) => {
        const stream = this.streams.get(name);
        const last = stream?.[stream.length - 1];
        return last ? { revision: last.revision, position: last.position } : null;
      },
      storedEvent: (id) => this.byId.get(id),
    };
    const plan = planAppends(requests, lookup);
    if (plan.rows.length === 0) return resolveResults(plan, []);
    const recordedAt = (this.options.now?.() ?? new Date()).toISOString();
    // Serialise everything before touching the store: a value JSON cannot encode fails the whole
    // append, leaving nothing half written.
    const encoded = plan.rows.map((r) => ({ ...r, data: JSON.stringify(r.event.data) ?? 'null', metadata: JSON.stringify(r.event.metadata) }));
    const positions: number[] = [];
    for (const r of encoded) {
      const row: StoredRow = {
        position: this.rows.length + 1,
        streamName: r.streamName,
        revision: r.revision,
        eventId: r.event.eventId,
        type: r.event.type,
        data: r.data,
        metadata: r.metadata,
        schemaVersion: r.event.schemaVersion ?? 1,
        recordedAt,
      };
      this.rows.push(row);
      this.byId.set(row.eventId, row);
      const stream = this.streams.get(row.streamName);
      if (stream) stream.push(row);
      else this.streams.set(row.streamName, [row]);
      positions.push(row.position);
    }
    this.notifier.notify();
    return resolveResults(plan, positions);
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const stream = this.streams.get(streamName) ?? [];
    const from = options.fromRevision ?? 0;
    const out: RecordedEvent[] = [];
    for (let i = Math.max(0, from); i < stream.length; i++) {
      if (options.maxCount !== undefined && out.length >= options.maxCount) break;
      const row = stream[i];
      if (options.toPosition !== undefined && row.position > options.toPosition) break;
      out.push(this.toRecorded(row));
    }
    return out;
  }

  async streamRevision(streamName: string): Promise<number | null> {
    this.assertOpen();
    const stream = this.streams.get(streamName);
    return stream ? stream.length - 1 : null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: RecordedEvent[] = [];
    // Positions are dense here (position p is rows[p - 1]), so start right after `after`.
    for (let i = Math.max(0, options.after ?? 0); i < this.rows.length && out.length < limit; i++) {
      const row = this.rows[i];
      if (matchesFilter(options.filter, row.streamName, row.type)) out.push(this.toRecorded(row));
    }
    return out;
  }

  async findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    return new Set(eventIds.filter((id) => this.byId.has(id)));
  }

  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    return this.rows.length;
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    this.assertOpen();
    return this.subscriptions.start(handler, options);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.subscriptions.stopAll();
      this.closed = true;
    })();
    return this.closing;
  }


  private toRecorded(row: StoredRow): RecordedEvent {
    const event: RecordedEvent = {
      streamName: row.streamName,
      revision: row.revision,
      position: row.position,
      eventId: row.eventId,
      type: row.type,
      data: JSON.parse(row.data) as unknown,
      metadata: JSON.parse(row.metadata) as EventMetadata,
      schemaVersion: row.schemaVersion,
      recordedAt: row.recordedAt,
    };
    return this.options.upcasters ? this.options.upcasters.upcast(event) : event;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('InMemoryEventStore is closed');
  }
}
