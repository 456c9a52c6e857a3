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

interface Pending {
  readonly requests: readonly AppendRequest[];
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

const MAX_REQUESTS_PER_COMMIT = 2_000;

/**
 * Group commit for the runtime's many small writes: appends that callers (the agents' workers)
 * make in the same turn of the event loop are committed together, in one transaction and one
 * fsync, instead of one each. Reads go straight to the store.
 *
 * Each caller still gets exactly its own outcome. Two callers that expect a revision of the same
 * stream cannot both succeed (the first moves it), so the later one is not put in the commit: it
 * gets the conflict it would have got, once the commit is done (it then reloads and decides again,
 * seeing the first one's write). If the commit still fails on a conflict with another writer, the
 * callers touching that stream get the conflict and the others are committed again without them.
 */
export class GroupCommitEventStore implements EventStore {
  private queue: Pending[] = [];
  /** A flush is scheduled or running: at most one commit is in progress, the next gathers what came meanwhile. */
  private scheduled = false;

  constructor(private readonly store: EventStore) {}

  append(streamName: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    return this.appendMany([{ streamName, events, expected: options.expected }]).then(([result]) => result);
  }

  appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ requests, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      await this.drain();
    } finally {
      this.scheduled = false;
      if (this.queue.length > 0) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const taken = this.queue;
      this.queue = [];
      let group: Pending[] = [];
      const collided: { pending: Pending; stream: string }[] = [];
      const written = new Set<string>();
      let size = 0;
      for (const pending of taken) {
        if (size > 0 && size + pending.requests.length > MAX_REQUESTS_PER_COMMIT) {
          this.queue.push(pending);
          continue;
        }
        // An exact expectation on a stream an earlier caller of the group writes to cannot hold.
        const clash = pending.requests.find((r) => r.expected !== 'any' && r.expected !== 'stream_exists' && written.has(r.streamName));
        if (clash !== undefined) {
          collided.push({ pending, stream: clash.streamName });
          continue;
        }
        for (const r of pending.requests) written.add(r.streamName);
        size += pending.requests.length;
        group.push(pending);
      }
      const revisions = new Map<string, number>();
      while (group.length > 0) {
        try {
          const results = await this.store.appendMany(group.flatMap((pending) => pending.requests));
          for (const result of results) revisions.set(result.streamName, result.nextExpectedRevision);
          let offset = 0;
          for (const pending of group) {
            pending.resolve(results.slice(offset, offset + pending.requests.length));
            offset += pending.requests.length;
          }
          group = [];
        } catch (error: unknown) {
          // Another writer moved a stream: its callers get the conflict, the rest commit again.
          const stream = error instanceof ConcurrencyConflictError ? error.streamName : null;
          const failing = group.filter((pending) => pending.requests.some((r) => r.streamName === stream));
          if (failing.length === 0) {
            // Not a conflict we can pin on someone: find whose request the store refuses by
            // committing each on its own (a lone caller simply gets the error).
            if (group.length === 1) group[0].reject(error);
            else await this.commitEach(group);
            group = [];
            break;
          }
          for (const pending of failing) pending.reject(error);
          group = group.filter((pending) => !failing.includes(pending));
        }
      }
      // Only now, after the commit: a caller that reloads on the conflict then sees the write that won.
      for (const { pending, stream } of collided) {
        const expected = pending.requests.find((r) => r.streamName === stream)?.expected ?? 'any';
        const actual = revisions.get(stream);
        pending.reject(new ConcurrencyConflictError(stream, expected, actual ?? 'no_stream', 'another write to this stream was committed first'));
      }
    }
  }

  private async commitEach(group: readonly Pending[]): Promise<void> {
    for (const pending of group) {
      try {
        pending.resolve(await this.store.appendMany(pending.requests));
      } catch (own: unknown) {
        pending.reject(own);
      }
    }
  }

  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.store.readStream(streamName, options);
  }

  streamRevision(streamName: string): Promise<number | null> {
    return this.store.streamRevision(streamName);
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.store.readAll(options);
  }

  findExistingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    return this.store.findExistingEventIds(eventIds);
  }

  headPosition(): Promise<GlobalPosition> {
    return this.store.headPosition();
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    return this.store.subscribe(handler, options);
  }

  /** The store belongs to whoever created it: closing the group committer does not close it. */
  async close(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
