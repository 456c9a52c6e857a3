import type {
  GlobalPosition,
  ReadAllOptions,
  RecordedEvent,
  Subscription,
  SubscriptionHandler,
  SubscriptionOptions,
} from '@meridian/domain';

/**
 * The catch-up loop behind every adapter's `subscribe`: read a batch after the checkpoint, hand it
 * to the handler, repeat until the head, signal caught-up, then sleep until an append wakes it (or
 * a slow poll fires, for appends this process is not told about).
 *
 * Correctness rests on the store's global-order invariant (once P is visible, nothing below P can
 * become visible later): the loop never re-reads below its checkpoint.
 */

/** What the loop needs from a store. */
export interface SubscriptionSource {
  headPosition(): Promise<GlobalPosition>;
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
}

/** Wakes live subscriptions after an append (in process; PostgreSQL also relays LISTEN/NOTIFY). */
export class AppendNotifier {
  private readonly listeners = new Set<() => void>();

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  get size(): number {
    return this.listeners.size;
  }
}

export interface SubscriptionTuning {
  /** Fallback poll while idle, for appends no notification reports. */
  readonly pollIntervalMs?: number;
  /** First retry delay after a failed handler call or read; doubles up to `retryMaxDelayMs`. */
  readonly retryInitialDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  /** Events per handler call when the subscriber does not say. */
  readonly defaultBatchSize?: number;
}

const DEFAULTS = { pollIntervalMs: 1000, retryInitialDelayMs: 100, retryMaxDelayMs: 10_000, defaultBatchSize: 500 };

class PollingSubscription implements Subscription {
  private running = true;
  /** Set by an append notification; checked before going idle so no wake-up is lost. */
  private woken = false;
  private interrupt: (() => void) | null = null;
  private interruptOnAppend = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly source: SubscriptionSource,
    private readonly handler: SubscriptionHandler,
    private readonly options: SubscriptionOptions,
    private readonly tuning: Required<SubscriptionTuning>,
    notifier: AppendNotifier,
  ) {
    const unlisten = notifier.listen(() => this.onAppended());
    this.done = this.run().finally(unlisten);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.interrupt?.();
    await this.done;
  }

  private onAppended(): void {
    this.woken = true;
    if (this.interruptOnAppend) this.interrupt?.();
  }

  private async run(): Promise<void> {
    const batchSize = Math.max(1, this.options.batchSize ?? this.tuning.defaultBatchSize);
    const filter = this.options.filter;
    let position = this.options.after ?? 0;
    let reportedCaughtUp: number | null = null;
    let readFailures = 0;

    while (this.running) {
      this.woken = false;
      let head: number;
      let batch: RecordedEvent[];
      try {
        // The head is read before the batch: every event at or below it is visible to the read
        // that follows, so a short batch proves nothing matching lies between checkpoint and head.
        head = await this.source.headPosition();
        batch = await this.source.readAll({ after: position, limit: batchSize, filter });
        readFailures = 0;
      } catch (error) {
        this.report(error);
        await this.pause(this.backoff(readFailures++), false);
        continue;
      }
      if (batch.length > 0) {
        if (!(await this.deliver(batch))) return;
        position = batch[batch.length - 1].position;
        if (batch.length === batchSize) {
          // A synchronous store (SQLite) and a synchronous handler would otherwise catch up in one
          // long turn of the event loop, starving timers and I/O (HTTP requests) until done.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
      }
      // Skipping ahead to the head matters with filters: events that do not match still move the
      // checkpoint, so a filtered subscriber can report how far it has seen.
      if (head > position) position = head;
      if (reportedCaughtUp !== position) {
        reportedCaughtUp = position;
        try {
          this.handler.onCaughtUp?.(position);
        } catch (error) {
          this.report(error);
        }
      }
      if (!this.woken && this.running) await this.pause(this.tuning.pollIntervalMs, true);
      const linger = this.options.lingerMs ?? 0;
      if (linger > 0 && this.running) await this.pause(linger, false);
    }
  }

  /** Hands `batch` to the handler until it succeeds; false when stopped first. */
  private async deliver(batch: readonly RecordedEvent[]): Promise<boolean> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.handler.onEvents(batch);
        return true;
      } catch (error) {
        this.report(error);
        await this.pause(this.backoff(attempt), false);
      }
    }
    return false;
  }

  private backoff(attempt: number): number {
    return Math.min(this.tuning.retryInitialDelayMs * 2 ** Math.min(attempt, 20), this.tuning.retryMaxDelayMs);
  }

  /** Sleeps `ms`; `stop()` always cuts it short, an append only when `wakeOnAppend`. */
  private pause(ms: number, wakeOnAppend: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      // An idle subscription must not keep the process alive on its own.
      timer.unref();
      const self = this;
      function finish(): void {
        clearTimeout(timer);
        self.interrupt = null;
        self.interruptOnAppend = false;
        resolve();
      }
      this.interrupt = finish;
      this.interruptOnAppend = wakeOnAppend;
    });
  }

  private report(error: unknown): void {
    try {
      this.handler.onError?.(error);
    } catch {
      // An error reporter that throws must not end delivery.
    }
  }
}

/** Starts and tracks an adapter's subscriptions, so `close()` can stop them all. */
export class SubscriptionRegistry {
  private readonly active = new Set<Subscription>();
  private readonly tuning: Required<SubscriptionTuning>;

  constructor(
    private readonly source: SubscriptionSource,
    readonly notifier: AppendNotifier,
    tuning: SubscriptionTuning = {},
  ) {
    this.tuning = { ...DEFAULTS, ...stripUndefined(tuning) };
  }

  start(handler: SubscriptionHandler, options: SubscriptionOptions = {}): Subscription {
    const subscription = new PollingSubscription(this.source, handler, options, this.tuning, this.notifier);
    const tracked: Subscription = {
      stop: async () => {
        this.active.delete(tracked);
        await subscription.stop();
      },
    };
    this.active.add(tracked);
    return tracked;
  }

  get size(): number {
    return this.active.size;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.active].map((s) => s.stop()));
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
