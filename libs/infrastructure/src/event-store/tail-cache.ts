import { matchesFilter, type GlobalPosition, type ReadAllOptions, type RecordedEvent } from '@meridian/domain';

/**
 * The newest events this process appended, in position order, as readers would decode them.
 *
 * Every subscription of a process (router, runtime, projections, realtime feed, …) reads what was
 * just appended, so without this each of them queries and decodes the same rows again. The cache
 * only ever holds a contiguous run of positions: an event appended by another writer in between
 * (another process on the same file) breaks the run, and the cache restarts after it. A read is
 * served from memory only from a position the run covers, and what lies beyond the run is still
 * read from the database, so nothing another writer stored is ever skipped. Readers share the
 * cached objects, as the `readonly` types of RecordedEvent already require: nobody mutates them.
 */
export class TailCache {
  private events: RecordedEvent[] = [];

  constructor(private readonly capacity: number) {}

  /** Adds committed events (already in position order). */
  add(committed: readonly RecordedEvent[]): void {
    if (committed.length === 0 || this.capacity <= 0) return;
    const last = this.events[this.events.length - 1];
    if (last !== undefined && committed[0].position !== last.position + 1) this.events = [];
    for (const event of committed) {
      const tail = this.events[this.events.length - 1];
      if (tail !== undefined && event.position !== tail.position + 1) this.events = [];
      this.events.push(event);
    }
    if (this.events.length > this.capacity * 2) this.events = this.events.slice(this.events.length - this.capacity);
  }

  /**
   * The events after `options.after` that match, from memory, or null when the run does not cover
   * that start. `complete` is false when the answer may continue beyond the run (read on from
   * `lastPosition` in the database).
   */
  read(options: ReadAllOptions): { events: RecordedEvent[]; lastPosition: GlobalPosition; complete: boolean } | null {
    const first = this.events[0];
    if (first === undefined) return null;
    const after = options.after ?? 0;
    if (after + 1 < first.position) return null;
    const last = this.events[this.events.length - 1];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const events: RecordedEvent[] = [];
    for (let i = Math.max(0, after + 1 - first.position); i < this.events.length; i += 1) {
      const event = this.events[i];
      if (!matchesFilter(options.filter, event.streamName, event.type)) continue;
      events.push(event);
      if (events.length >= limit) return { events, lastPosition: event.position, complete: true };
    }
    return { events, lastPosition: Math.max(after, last.position), complete: false };
  }
}
