import { Redis, type RedisOptions } from 'ioredis';

/**
 * Where a Redis adapter gets its connection: a URL (the adapter opens the connection and closes it
 * on stop) or an ioredis client the caller owns (used as is for commands; subscriptions always get
 * their own connection, duplicated from it, because a subscribing connection can run nothing else).
 */
export type RedisConnectionSource = Redis | string;

/** A connection an adapter holds; `release` closes it only when the adapter opened it. */
export interface HeldRedisConnection {
  readonly client: Redis;
  release(): Promise<void>;
}

/** `<prefix>:<name>`: one prefix per deployment keeps deployments sharing a server apart. */
export function redisChannel(prefix: string, name: 'events' | 'tokens'): string {
  if (prefix.length === 0) throw new Error('A Redis channel prefix must not be empty');
  return `${prefix}:${name}`;
}

/** A connection for commands (PUBLISH): the caller's client, or one opened from the URL. */
export function commandConnection(source: RedisConnectionSource, options: RedisOptions, onError: (error: unknown) => void): HeldRedisConnection {
  if (typeof source !== 'string') return { client: source, release: async () => undefined };
  return owned(new Redis(source, { ...OWNED_DEFAULTS, ...options }), onError);
}

/** A connection of its own for SUBSCRIBE, always owned (a duplicate of the caller's client, or opened from the URL). */
export function subscriberConnection(source: RedisConnectionSource, options: RedisOptions, onError: (error: unknown) => void): HeldRedisConnection {
  const settings = { ...OWNED_DEFAULTS, ...options };
  return owned(typeof source === 'string' ? new Redis(source, settings) : source.duplicate(settings), onError);
}

/**
 * Resolves once `client` is ready: connects a client that has not tried yet (rejecting when that
 * attempt fails), waits for one that is connecting or reconnecting, rejects for one that has ended.
 */
export function untilReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') return client.connect();
  if (client.status === 'end') return Promise.reject(new Error('Redis connection has ended'));
  return new Promise((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off('ready', onReady);
      reject(new Error('Redis connection ended before it was ready'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}

/**
 * Lets stop() cut short a start that waits on Redis: a command queued while ioredis reconnects is
 * not failed when the connection is then closed by hand, so the start races it with `abandoned`.
 */
export class StartAbandon {
  readonly abandoned: Promise<never>;
  private rejectStart: (error: Error) => void = () => undefined;

  constructor() {
    this.abandoned = new Promise<never>((_, reject) => {
      this.rejectStart = reject;
    });
    // Only ever awaited in a race; no rejection may go unhandled when nothing is waiting.
    this.abandoned.catch(() => undefined);
  }

  abandon(): void {
    this.rejectStart(new Error('Stopped before it had started'));
  }

  /** `work`, unless abandoned first. */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.abandoned]);
  }
}

/**
 * Connections are only disconnected (rather than QUIT) when they are already down or QUIT failed,
 * and ioredis then still arms its "close gracefully" timer on the dead socket, which nothing
 * clears: with the 2 s default a stopped adapter would keep the process alive that long.
 */
const OWNED_DEFAULTS: RedisOptions = { disconnectTimeout: 200 };

function owned(client: Redis, onError: (error: unknown) => void): HeldRedisConnection {
  // ioredis emits an error on every failed reconnect attempt; one report per outage is enough
  // (without any listener it would print to the console instead).
  let reported = false;
  client.on('error', (error: unknown) => {
    if (reported) return;
    reported = true;
    onError(error);
  });
  client.on('ready', () => {
    reported = false;
  });
  return {
    client,
    release: async () => {
      if (client.status === 'end') return;
      if (client.status !== 'ready') {
        // Not connected: QUIT would wait in the offline queue for a server that may not come back.
        client.disconnect();
        return;
      }
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

/**
 * One start at a time, as every Redis adapter here needs: concurrent `start()` calls share the
 * start under way, a failed start may be tried again, and `abandon()` makes a start under way
 * reject at once (stop during an outage must not wait for Redis).
 */
export class SingleStart {
  private current: Promise<void> | null = null;
  private abandoning: StartAbandon | null = null;

  run(open: (abandon: StartAbandon) => Promise<void>): Promise<void> {
    if (!this.current) {
      const abandon = new StartAbandon();
      this.abandoning = abandon;
      const current = open(abandon).catch((error: unknown) => {
        if (this.current === current) this.current = null;
        throw error;
      });
      this.current = current;
    }
    return this.current;
  }

  /** Abandons the start under way, if any; the returned promise settles once it has. */
  abandon(): Promise<void> {
    const current = this.current;
    this.abandoning?.abandon();
    this.abandoning = null;
    this.current = null;
    return current?.catch(() => undefined) ?? Promise.resolve();
  }
}
