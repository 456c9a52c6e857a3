import type { EventStore, RecordedEvent, Subscription } from '@meridian/domain';
import type { RealtimeFeed, RealtimeListenOptions, RealtimeListener } from './realtime-feed.port';

export interface InProcessRealtimeFeedOptions {
  /** Events per store read; also the largest batch a listener receives. */
  readonly batchSize?: number;
  /** Where failures go (a listener that threw, a failed store read); never thrown further. */
  readonly onError?: (error: unknown, context: 'listener' | 'subscription') => void;
}

/**
 * The embedded realtime feed: ONE event-store subscription for the whole process, started at the
 * head, broadcasting each committed batch to every listener. The store is thus read once however
 * many clients are connected, and no listener can slow the store down (listeners are synchronous
 * and must buffer or drop on their own).
 *
 * Nothing is ever lost in process: the subscription is a catch-up loop over the store's global
 * order, so `onGap` is never called.
 */
export class InProcessRealtimeFeed implements RealtimeFeed {
  private readonly listeners = new Set<RealtimeListener>();
  private subscription: Subscription | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly options: InProcessRealtimeFeedOptions = {},
  ) {}

  /** Follows the store from its current head. Resolves once the starting point is fixed. */
  async start(): Promise<void> {
    if (this.subscription) return;
    const head = await this.store.headPosition();
    this.subscription = this.store.subscribe(
      {
        onEvents: (events) => this.broadcast(events),
        onError: (error) => this.options.onError?.(error, 'subscription'),
      },
      { after: head, batchSize: this.options.batchSize },
    );
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
    this.listeners.clear();
  }

  // `_options` is part of the port: this adapter has no gap to report.
  listen(listener: RealtimeListener, _options?: RealtimeListenOptions): () => void {
    // Before start the starting point is not fixed, so "every event committed after listen" could
    // not be honoured: refuse rather than silently lose events.
    if (!this.subscription) throw new Error('InProcessRealtimeFeed.listen() called before start()');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private broadcast(events: readonly RecordedEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        // Never rethrown: the subscription would redeliver the batch to every listener.
        this.options.onError?.(error, 'listener');
      }
    }
  }
}
