import type { GlobalPosition, RecordedEvent } from '@meridian/domain';
import { redisChannel, SingleStart, StartAbandon, subscriberConnection, type HeldRedisConnection, type RedisConnectionSource } from './redis-connection';
import { decodeRealtimeMessage, type RealtimeBatchMessage } from './redis-realtime.codec';
import type { RealtimeFeed, RealtimeListenOptions, RealtimeListener } from './realtime-feed.port';

export type RedisRealtimeFeedErrorContext = 'listener' | 'message' | 'connection';

/**
 * Why listeners were told to catch up: the relay announced a gap (it started, or could not encode
 * a batch), this connection came back after a drop, a batch did not follow the previous one, or a
 * message could not be read.
 */
export type RealtimeGapReason = 'relay' | 'reconnect' | 'sequence' | 'undecodable';

export interface RedisRealtimeFeedOptions {
  /**
   * A redis:// URL, or an ioredis client to duplicate: the feed always subscribes on a connection
   * of its own (opened on start, closed on stop).
   */
  readonly redis: RedisConnectionSource;
  /** Channel prefix of the deployment: the feed subscribes to `<prefix>:events`. */
  readonly prefix: string;
  /** CLIENT SETNAME of the subscribing connection, to find it in CLIENT LIST. Default `<prefix>:realtime-feed`. */
  readonly connectionName?: string;
  /** Where failures go (a listener that threw, an unreadable message, the connection); never thrown further. */
  readonly onError?: (error: unknown, context: RedisRealtimeFeedErrorContext) => void;
  /** Told each time listeners are asked to catch up (for logs and metrics). */
  readonly onGap?: (reason: RealtimeGapReason) => void;
}

/**
 * The realtime feed of a gateway replica: ONE Redis subscription per process to what the relay
 * (RedisRealtimeRelay) publishes, fanned out to every local listener in order.
 *
 * Redis pub/sub keeps nothing for a subscriber that is away, so the feed calls every listener's
 * `onGap` whenever something may have been missed: the relay announced a gap, the connection
 * dropped (signalled once the subscription is confirmed again, so the listeners' catch-up cannot
 * miss what arrives meanwhile), a batch does not follow the last one seen, or a message cannot be
 * read. Positions at or below the last delivered one are dropped, so listeners see strictly
 * increasing positions even when the relay publishes a batch twice.
 */
export class RedisRealtimeFeed implements RealtimeFeed {
  private readonly listeners = new Map<RealtimeListener, RealtimeListenOptions | undefined>();
  private connection: HeldRedisConnection | null = null;
  private readonly starting = new SingleStart();
  /** start() has resolved: a later subscription is a re-subscription after a drop. */
  private started = false;
  /** The SUBSCRIBE is confirmed on the current connection (reset when it closes). */
  private subscribed = false;
  /** Highest position delivered (or announced as a gap); the next batch should follow it. */
  private floor: GlobalPosition | null = null;
  /** Listeners were just told to catch up: the next batch sets a new baseline instead of signalling again. */
  private resync = false;
  readonly channel: string;

  constructor(private readonly options: RedisRealtimeFeedOptions) {
    this.channel = redisChannel(options.prefix, 'events');
  }

  /** Subscribes; resolves once Redis has confirmed the subscription. Rejects when it cannot. */
  start(): Promise<void> {
    return this.starting.run((abandon) => this.open(abandon));
  }

  /** Unsubscribes and forgets every listener. A start still under way fails at once. */
  async stop(): Promise<void> {
    const { connection } = this;
    const started = this.starting.abandon();
    this.connection = null;
    this.started = false;
    this.subscribed = false;
    this.floor = null;
    this.resync = false;
    this.listeners.clear();
    await connection?.release();
    await started;
  }

  listen(listener: RealtimeListener, options?: RealtimeListenOptions): () => void {
    // Before the subscription is confirmed nothing published would reach it: refuse rather than
    // silently lose events.
    if (!this.started) throw new Error('RedisRealtimeFeed.listen() called before start()');
    this.listeners.set(listener, options);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Whether the subscription is up now (for /health/ready). */
  get connected(): boolean {
    return this.subscribed;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private async open(abandon: StartAbandon): Promise<void> {
    const connection = subscriberConnection(
      this.options.redis,
      {
        connectionName: this.options.connectionName ?? `${this.options.prefix}:realtime-feed`,
        // Re-subscribing is done here, so that the gap is signalled only once it is confirmed.
        autoResubscribe: false,
      },
      (error) => this.report(error, 'connection'),
    );
    const { client } = connection;
    this.connection = connection;
    client.on('message', (channel: string, text: string) => {
      if (channel === this.channel && this.connection === connection) this.onMessage(text);
    });
    client.on('close', () => {
      if (this.connection === connection) this.subscribed = false;
    });
    client.on('ready', () => {
      if (this.started && this.connection === connection) this.resubscribe(connection);
    });
    try {
      await abandon.race(client.subscribe(this.channel));
    } catch (error) {
      if (this.connection === connection) this.connection = null;
      await connection.release();
      throw error;
    }
    if (this.connection !== connection) return; // stopped meanwhile
    this.subscribed = true;
    this.started = true;
  }

  private resubscribe(connection: HeldRedisConnection): void {
    connection.client.subscribe(this.channel).then(
      () => {
        if (this.connection !== connection) return;
        this.subscribed = true;
        this.signalGap('reconnect');
      },
      // Dropped again before it was confirmed: the next 'ready' tries again.
      (error: unknown) => this.report(error, 'connection'),
    );
  }

  private onMessage(text: string): void {
    let message;
    try {
      message = decodeRealtimeMessage(text);
    } catch (error) {
      this.report(error, 'message');
      this.signalGap('undecodable');
      return;
    }
    if (message.kind === 'batch') {
      this.onBatch(message);
      return;
    }
    // A relay (re)starting at the position this feed has already delivered up to lost nothing.
    const lost = this.floor === null || this.resync || message.after > this.floor;
    this.floor = Math.max(this.floor ?? message.after, message.after);
    if (lost) this.signalGap('relay');
    // The baseline is known again: the relay's next batch follows `after`.
    this.resync = false;
  }

  private onBatch(message: RealtimeBatchMessage): void {
    if (this.floor !== null && !this.resync && message.after > this.floor) this.signalGap('sequence');
    this.resync = false;
    const floor = this.floor;
    const fresh = floor === null ? message.events : message.events.filter((event) => event.position > floor);
    if (fresh.length === 0) return;
    this.floor = fresh[fresh.length - 1].position;
    this.broadcast(fresh);
  }

  private broadcast(events: readonly RecordedEvent[]): void {
    for (const listener of this.listeners.keys()) {
      try {
        listener(events);
      } catch (error) {
        this.report(error, 'listener');
      }
    }
  }

  private signalGap(reason: RealtimeGapReason): void {
    this.resync = true;
    try {
      this.options.onGap?.(reason);
    } catch (error) {
      this.report(error, 'listener');
    }
    for (const options of this.listeners.values()) {
      try {
        options?.onGap?.();
      } catch (error) {
        this.report(error, 'listener');
      }
    }
  }

  private report(error: unknown, context: RedisRealtimeFeedErrorContext): void {
    try {
      this.options.onError?.(error, context);
    } catch {
      // A failing reporter must not stop delivery.
    }
  }
}
