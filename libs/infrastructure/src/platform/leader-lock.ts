import { Client } from 'pg';

export interface LeaderLockLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface LeaderLockOptions {
  readonly url: string;
  /** What is led (one lock per name and database). */
  readonly name: string;
  readonly logger: LeaderLockLogger;
  /** How often a follower tries to take the lead. Default 1 s. */
  readonly retryMs?: number;
  /** Runs the singletons; awaited before the lock counts as held. */
  readonly onAcquired: () => Promise<void>;
  /** Stops them; called when the lock's connection is lost or on stop. */
  readonly onReleased: () => Promise<void>;
}

/**
 * Leader election over a PostgreSQL session advisory lock. Some work must run once per deployment
 * — the agent router, the trigger engine, the deadlines, the outbox relay — while every runtime
 * replica stays ready to take over. The lock lives as long as the holder's connection: a replica
 * killed with `kill -9` drops its connection, PostgreSQL releases the lock, and a follower takes
 * it on its next try. A leader that loses its connection stops its singletons at once (another
 * replica may already have the lock) and competes again.
 */
export class LeaderLock {
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = true;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaderLockOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.transition;
    await this.release();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.transition = this.attempt().finally(() => {
        if (!this.leading) this.schedule(this.options.retryMs ?? 1_000);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    try {
      // TCP keepalive and a query timeout: a connection that dies silently (no FIN from the server)
      // is noticed within seconds, not when the OS gives up on it.
      const client = new Client({ connectionString: this.options.url, application_name: `meridian-leader-${this.options.name}`, keepAlive: true, keepAliveInitialDelayMillis: 2_000, query_timeout: 5_000, connectionTimeoutMillis: 5_000 });
      client.on('error', (error) => void this.lost(client, error));
      await client.connect();
      const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [`meridian:${this.options.name}`]);
      if (result.rows[0]?.locked !== true || this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.leading = true;
      this.options.logger.info({ lock: this.options.name }, 'leading: starting the singletons');
      // A keepalive query notices a dead connection even when nothing else uses it.
      const keepalive = setInterval(() => void client.query('select 1').catch((error: unknown) => this.lost(client, error)), 2_000);
      keepalive.unref();
      client.once('end', () => clearInterval(keepalive));
      await this.options.onAcquired();
    } catch (error) {
      this.options.logger.warn({ err: error, lock: this.options.name }, 'leader lock not taken; trying again');
      if (this.leading) await this.release();
    }
  }

  private async lost(client: Client, error: unknown): Promise<void> {
    if (this.client !== client) return;
    this.options.logger.error({ err: error, lock: this.options.name }, 'leader lock connection lost: stopping the singletons');
    await this.release();
    this.schedule(this.options.retryMs ?? 1_000);
  }

  private async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (this.leading) {
      this.leading = false;
      await this.options.onReleased().catch((error: unknown) => this.options.logger.error({ err: error }, 'singletons did not stop cleanly'));
    }
    // Closing the session releases the advisory lock. A dead connection may never answer the
    // goodbye: do not wait on it.
    if (client !== null) await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
}
