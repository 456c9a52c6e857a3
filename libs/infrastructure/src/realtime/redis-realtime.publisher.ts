import { randomUUID } from 'node:crypto';
import type { EventStore, GlobalPosition, RecordedEvent, Subscription } from '@meridian/domain';
import { commandConnection, redisChannel, SingleStart, StartAbandon, type HeldRedisConnection, type RedisConnectionSource } from './redis-connection';
import { encodeRealtimeMessage, type RealtimeWireMessage } from './redis-realtime.codec';

export type RedisRealtimeRelayErrorContext = 'publish' | 'encode' | 'subscription' | 'connection';

export interface RedisRealtimeRelayOptions {
  /** An ioredis client (used as is, never closed here) or a redis:// URL (opened and closed here). */
  readonly redis: RedisConnectionSource;
  /** Channel prefix of the deployment: batches go to `<prefix>:events`. */
  readonly prefix: string;
  readonly store: EventStore;
  /** Events per store read, and so per published message. Default 200. */
  readonly batchSize?: number;
  /** Where failures go; none is thrown further (a failed PUBLISH is retried with backoff). */
  readonly onError?: (error: unknown, context: RedisRealtimeRelayErrorContext) => void;
}

/**
 * Publishes every committed event to Redis for the realtime feeds of all gateway replicas: ONE
 * event-store subscription per deployment (the caller runs exactly one relay, under a leader lock),
 * however many replicas and clients there are.
 *
 * Nothing is published for events committed while no relay ran, so every start first announces a
 * gap: subscribers then have their listeners catch up from the store. After that each batch names
 * the position it follows, so a subscriber can tell when it missed one.
 *
 * A PUBLISH that fails is retried (the store subscription redelivers the batch with backoff), so a
 * running relay loses nothing; a batch sent twice is harmless, since subscribers skip positions
 * they have already delivered.
 */
export class RedisRealtimeRelay {
  private connection: HeldRedisConnection | null = null;
  private readonly starting = new SingleStart();
  private subscription: Subscription | null = null;
  private relayId = '';
  private published: GlobalPosition | null = null;
  /** Publish failures already reported here, so the subscription's retry report does not repeat them. */
  private readonly reported = new WeakSet<object>();
  readonly channel: string;

  constructor(private readonly options: RedisRealtimeRelayOptions) {
    this.channel = redisChannel(options.prefix, 'events');
  }

  /**
   * Announces the gap, then follows the store from its head. Resolves once the announcement is
   * published; rejects (leaving the relay stopped) when Redis or the store cannot be reached.
   */
  start(): Promise<void> {
    return this.starting.run((abandon) => this.open(abandon));
  }

  /**
   * Stops following the store once the batch being published (if any) is done. A start still
   * under way is abandoned (it rejects).
   */
  async stop(): Promise<void> {
    const { subscription, connection } = this;
    const started = this.starting.abandon();
    this.subscription = null;
    this.connection = null;
    await subscription?.stop();
    await connection?.release();
    await started;
  }

  private async open(abandon: StartAbandon): Promise<void> {
    const connection = commandConnection(this.options.redis, {}, (error) => this.report(error, 'connection'));
    this.connection = connection;
    try {
      const head = await abandon.race(this.options.store.headPosition());
      const relayId = randomUUID();
      await abandon.race(connection.client.publish(this.channel, encodeRealtimeMessage({ kind: 'gap', relayId, after: head })));
      if (this.connection !== connection) return; // stopped meanwhile
      this.relayId = relayId;
      this.published = head;
      this.subscription = this.options.store.subscribe(
        {
          onEvents: (events) => this.relay(events),
          onError: (error) => {
            if (typeof error === 'object' && error !== null && this.reported.has(error)) return;
            this.report(error, 'subscription');
          },
        },
        { after: head, batchSize: this.options.batchSize ?? 200 },
      );
    } catch (error) {
      if (this.connection === connection) this.connection = null;
      await connection.release();
      throw error;
    }
  }

  /** Position of the last event published (or announced as a gap); null when not started. */
  get publishedPosition(): GlobalPosition | null {
    return this.published;
  }

  /** Whether the publishing connection is up (for readiness checks). */
  get connected(): boolean {
    return this.connection?.client.status === 'ready';
  }

  private async relay(events: readonly RecordedEvent[]): Promise<void> {
    const connection = this.connection;
    if (events.length === 0 || !connection) return;
    const last = events[events.length - 1].position;
    let message: RealtimeWireMessage = { kind: 'batch', relayId: this.relayId, after: this.published ?? 0, events };
    let text: string;
    try {
      text = encodeRealtimeMessage(message);
    } catch (error) {
      // Publishing something else would break the feeds' promise of exact events; the store
      // still has them, so subscribers are told to read them from there.
      this.report(error, 'encode');
      message = { kind: 'gap', relayId: this.relayId, after: last };
      text = encodeRealtimeMessage(message);
    }
    try {
      await connection.client.publish(this.channel, text);
    } catch (error) {
      this.report(error, 'publish');
      if (typeof error === 'object' && error !== null) this.reported.add(error);
      throw error;
    }
    this.published = last;
  }

  private report(error: unknown, context: RedisRealtimeRelayErrorContext): void {
    try {
      this.options.onError?.(error, context);
    } catch {
      // A failing reporter must not stop the relay.
    }
  }
}
