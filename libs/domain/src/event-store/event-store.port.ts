import type { EventMetadata } from '../shared/event';

/**
 * The event store port (system of record). Contract — every adapter passes the same conformance
 * suite (libs/infrastructure/src/event-store/event-store.conformance.ts):
 *
 * - `append` is atomic. `expected` is checked against the stream's current revision (0-based; a
 *   stream that does not exist has no revision).
 * - Idempotent by (stream, eventId): re-appending events that are already stored, at the same place,
 *   succeeds without writing (`duplicate: true`). A partial overlap is a conflict. Event ids are
 *   globally unique: an id already stored in another stream is a conflict too.
 * - Global positions are integers, strictly increasing in commit order. Once position P has been
 *   delivered to a reader, no event below P may ever become visible.
 * - Subscriptions deliver at least once: consumers are idempotent (they keep a checkpoint).
 */
export const EVENT_STORE = Symbol('EventStore');

/** 0-based revision of the last event a writer expects in the stream. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

/** Global position in the store's total order. Comparable and monotonic; 0 means "before the first". */
export type GlobalPosition = number;

export interface NewEvent<Type extends string = string, Data = unknown> {
  readonly eventId: string;
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
  /** Schema version of `data`; upcasters bring older versions up to date on read. Defaults to 1. */
  readonly schemaVersion?: number;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> {
  readonly streamName: string;
  /** 0-based revision within the stream. */
  readonly revision: number;
  readonly position: GlobalPosition;
  readonly eventId: string;
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
  readonly schemaVersion: number;
  /** When the store committed it (ISO-8601). */
  readonly recordedAt: string;
}

export interface AppendRequest {
  readonly streamName: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
}

export interface AppendResult {
  readonly streamName: string;
  /** Revision of the last event of the stream after the append: pass it as `expected` next time. */
  readonly nextExpectedRevision: number;
  /** Global position of the last event of this append (of the stored copy when duplicate). */
  readonly position: GlobalPosition;
  /** True when every event was already stored (idempotent replay): nothing was written. */
  readonly duplicate: boolean;
}

export interface ReadStreamOptions {
  /** First revision to read (inclusive). Default 0. */
  readonly fromRevision?: number;
  readonly maxCount?: number;
  /** Only events at or below this global position (time travel). */
  readonly toPosition?: GlobalPosition;
}

export interface EventFilter {
  /** Stream names starting with any of these prefixes. */
  readonly streamPrefixes?: readonly string[];
  /** Events whose type is one of these; a trailing `*` matches a prefix (`order.*`). */
  readonly types?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive lower bound. Default 0 (from the start). */
  readonly after?: GlobalPosition;
  readonly limit?: number;
  readonly filter?: EventFilter;
}

export interface SubscriptionOptions {
  /** Deliver events strictly after this position. Default 0 (from the start). */
  readonly after?: GlobalPosition;
  readonly filter?: EventFilter;
  /** Maximum events per `onEvents` call. */
  readonly batchSize?: number;
  /**
   * Once live, how long to wait after being woken by an append before reading, so that appends
   * arriving close together are delivered as one batch. For consumers whose cost is per batch
   * (projections: one transaction each) rather than per event. Default 0.
   */
  readonly lingerMs?: number;
}

export interface SubscriptionHandler {
  /**
   * Called with events in global order. The next batch is not delivered until the returned promise
   * settles. If it rejects, the subscription retries the same batch with backoff (at-least-once).
   */
  onEvents(events: readonly RecordedEvent[]): Promise<void> | void;
  /** Called each time the subscription has delivered everything stored so far (then it goes live). */
  onCaughtUp?(position: GlobalPosition): void;
  onError?(error: unknown): void;
}

export interface Subscription {
  /** Stops delivery; resolves once no handler call is running. */
  stop(): Promise<void>;
}

export interface EventStore {
  append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult>;
  /**
   * Appends to many streams in one atomic commit (group commit: one transaction, one fsync).
   * Either every request is applied or none is; a conflict in any throws the conflict of that
   * request. Requests for the same stream are applied in order.
   */
  appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]>;
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Current revision of a stream, or null if it does not exist. */
  streamRevision(streamName: string): Promise<number | null>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Which of these event ids are already stored (in any stream). */
  findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>>;
  /** Highest visible global position (0 when empty). */
  headPosition(): Promise<GlobalPosition>;
  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription;
  close(): Promise<void>;
}

/** Thrown by `append`/`appendMany` when `expected` does not hold or an append partially overlaps. */
export class ConcurrencyConflictError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** Current revision of the stream, or 'no_stream'. Always filled in. */
    readonly actual: number | 'no_stream',
    reason?: string,
  ) {
    super(
      `Concurrency conflict on stream "${streamName}": expected ${String(expected)}, actual ${String(actual)}` +
        (reason ? ` (${reason})` : ''),
    );
    this.name = 'ConcurrencyConflictError';
  }
}

/** True when `type` is matched by `pattern` (exact, or a prefix when the pattern ends with `*`). */
export function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

export function matchesFilter(filter: EventFilter | undefined, streamName: string, type: string): boolean {
  if (!filter) return true;
  if (filter.streamPrefixes && filter.streamPrefixes.length > 0 && !filter.streamPrefixes.some((p) => streamName.startsWith(p))) {
    return false;
  }
  if (filter.types && filter.types.length > 0 && !filter.types.some((p) => typeMatches(p, type))) {
    return false;
  }
  return true;
}
