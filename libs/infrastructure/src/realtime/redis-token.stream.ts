import type { ReplyToken, TokenListener, TokenStream } from '@meridian/agents';
import { commandConnection, redisChannel, SingleStart, StartAbandon, subscriberConnection, untilReady, type HeldRedisConnection, type RedisConnectionSource } from './redis-connection';

export type RedisTokenStreamErrorContext = 'publish' | 'listener' | 'message' | 'connection';

export interface RedisTokenStreamOptions {
  /**
   * An ioredis client (used as is for PUBLISH, never closed here; listening duplicates it) or a
   * redis:// URL (connections opened and closed here).
   */
  readonly redis: RedisConnectionSource;
  /** Channel prefix of the deployment: tokens go to `<prefix>:tokens`. */
  readonly prefix: string;
  /** Where failures go; never thrown into the caller. Failed publishes are reported once per outage. */
  readonly onError?: (error: unknown, context: RedisTokenStreamErrorContext) => void;
}

/**
 * Reply tokens across processes: the runtime publishes each delta to `<prefix>:tokens`, every
 * gateway replica receives them all and hands them to its local listeners.
 *
 * Tokens are ephemeral (the complete reply is stored as an event), so nothing here waits, queues
 * or retries: a token published while Redis is unreachable is dropped (counted in
 * `droppedTokens`), since delivering stale deltas later would only garble the typing effect. The
 * subscribing connection is opened by the first `listen()`, so a process that only publishes
 * never receives the traffic.
 */
export class RedisTokenStream implements TokenStream {
  private readonly listeners = new Set<TokenListener>();
  private publisher: HeldRedisConnection | null = null;
  private readonly starting = new SingleStart();
  private subscriber: HeldRedisConnection | null = null;
  private subscription: Promise<void> | null = null;
  private publishFailing = false;
  private dropped = 0;
  readonly channel: string;

  constructor(private readonly options: RedisTokenStreamOptions) {
    this.channel = redisChannel(options.prefix, 'tokens');
  }

  /** Opens the publishing connection; resolves once it is ready. publish() drops tokens until then. */
  start(): Promise<void> {
    return this.starting.run((abandon) => this.open(abandon));
  }

  /** Closes the connections and forgets every listener; a start still under way is abandoned. */
  async stop(): Promise<void> {
    const { publisher, subscriber } = this;
    const started = this.starting.abandon();
    this.publisher = null;
    this.subscriber = null;
    this.subscription = null;
    this.listeners.clear();
    await Promise.all([publisher?.release(), subscriber?.release()]);
    await started;
  }

  publish(token: ReplyToken): void {
    const client = this.publisher?.client;
    if (!client || client.status !== 'ready') {
      this.dropped++;
      this.publishFailed(new Error(client ? `Redis connection is ${client.status}` : 'RedisTokenStream.publish() called before start()'));
      return;
    }
    client.publish(this.channel, JSON.stringify(token)).then(
      () => {
        this.publishFailing = false;
      },
      (error: unknown) => {
        this.dropped++;
        this.publishFailed(error);
      },
    );
  }

  listen(listener: TokenListener): () => void {
    this.listeners.add(listener);
    this.subscribe();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Resolves once the subscription opened by the first listen() is confirmed (tokens published
   * before are not received); rejects when there is none or it failed.
   */
  whenListening(): Promise<void> {
    return this.subscription ?? Promise.reject(new Error('RedisTokenStream is not listening: call listen() first'));
  }

  /** Tokens dropped because Redis could not take them. */
  get droppedTokens(): number {
    return this.dropped;
  }

  /** Whether the publishing connection is up (for readiness checks). */
  get connected(): boolean {
    return this.publisher?.client.status === 'ready';
  }

  private async open(abandon: StartAbandon): Promise<void> {
    // No offline queue: a token held back while disconnected would arrive too late to matter.
    const publisher = commandConnection(this.options.redis, { enableOfflineQueue: false, lazyConnect: true }, (error) => this.report(error, 'connection'));
    // Held at once (publish() checks readiness itself), so that stop() can close it while it connects.
    this.publisher = publisher;
    try {
      await abandon.race(untilReady(publisher.client));
    } catch (error) {
      if (this.publisher === publisher) this.publisher = null;
      await publisher.release();
      throw error;
    }
  }

  private subscribe(): void {
    if (this.subscriber) return;
    // ioredis re-subscribes by itself after a reconnect; tokens missed meanwhile are simply gone.
    const subscriber = subscriberConnection(
      this.options.redis,
      { connectionName: `${this.options.prefix}:token-stream`, autoResubscribe: true },
      (error) => this.report(error, 'connection'),
    );
    this.subscriber = subscriber;
    subscriber.client.on('message', (channel: string, text: string) => {
      if (channel === this.channel && this.subscriber === subscriber) this.onMessage(text);
    });
    const subscription = subscriber.client.subscribe(this.channel).then(() => undefined);
    // Reported here (unless stopped meanwhile); whenListening() hands the same failure to whoever waits on it.
    subscription.catch((error: unknown) => {
      if (this.subscriber === subscriber) this.report(error, 'connection');
    });
    this.subscription = subscription;
  }

  private onMessage(text: string): void {
    let token: ReplyToken;
    try {
      token = parseToken(text);
    } catch (error) {
      this.report(error, 'message');
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(token);
      } catch (error) {
        this.report(error, 'listener');
      }
    }
  }

  private publishFailed(error: unknown): void {
    if (this.publishFailing) return;
    this.publishFailing = true;
    this.report(error, 'publish');
  }

  private report(error: unknown, context: RedisTokenStreamErrorContext): void {
    try {
      this.options.onError?.(error, context);
    } catch {
      // A failing reporter must not reach the caller of publish().
    }
  }
}

const TOKEN_FIELDS = ['tenantId', 'conversationId', 'messageId', 'agentId', 'delta'] as const;

function parseToken(text: string): ReplyToken {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error('token message is not an object');
  const record = value as Record<string, unknown>;
  for (const field of TOKEN_FIELDS) {
    if (typeof record[field] !== 'string') throw new Error(`token message has no string ${field}`);
  }
  return {
    tenantId: record.tenantId as string,
    conversationId: record.conversationId as string,
    messageId: record.messageId as string,
    agentId: record.agentId as string,
    delta: record.delta as string,
  };
}
