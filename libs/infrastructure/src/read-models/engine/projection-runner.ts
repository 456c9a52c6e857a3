import type { EventStore, RecordedEvent, Subscription } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { errorFields, type ReadModelLogger } from '../read-model-logger';
import { inWriteTransaction, withReader } from '../read-model-transactions';
import type { Projection } from './projection';
import { compareAndSetCheckpoint, loadCheckpoint, RETIRED_POSITION } from './projection-bookkeeping';
import { CheckpointConflictError } from './projection-errors';

export interface ProjectionRunnerOptions {
  readonly projection: Projection;
  /** The version (generation) this runner writes. */
  readonly version: number;
  readonly store: EventStore;
  readonly dataSource: DataSource;
  readonly batchSize: number;
  /** Live: wait this long after an append before reading, to project appends close together in one transaction. */
  readonly lingerMs?: number;
  readonly logger: ReadModelLogger;
  /** After a batch (or a catch-up advance) committed: the checkpoint is now `position`. */
  readonly onCommitted?: (position: number) => void;
  /** The subscription delivered everything stored up to `position` and the checkpoint covers it. */
  readonly onCaughtUp?: (position: number) => void;
  /** A batch failed (it will be delivered again); `consecutive` counts failures since the last success. */
  readonly onFailure?: (error: unknown, consecutive: number) => void;
}

/**
 * Runs one version of one projection: subscribes to the store after its checkpoint and applies each
 * delivered batch in one transaction that (1) compare-and-sets the checkpoint from the position this
 * runner last committed to the batch's last position, then (2) writes the rows. Either both commit or
 * neither does, so a crash or a failure inside `apply` can neither skip nor double-apply events.
 *
 * When the compare-and-set fails, someone else (another projector process) moved the checkpoint:
 * the transaction is rolled back and the runner re-subscribes from the checkpoint it reads back.
 */
export class ProjectionRunner {
  readonly projection: Projection;
  readonly version: number;
  private checkpoint = 0;
  private subscription: Subscription | null = null;
  /** Batches and catch-up advances are applied strictly one after another. */
  private queue: Promise<void> = Promise.resolve();
  /** Incremented per subscription: deliveries from a replaced subscription are ignored. */
  private generation = 0;
  private stopped = false;
  private restarting = false;
  private consecutiveFailuresCount = 0;
  private lastErrorMessage: string | undefined;
  private applied = 0;
  private retiredVersion = false;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.projection = options.projection;
    this.version = options.version;
  }

  /** The last committed checkpoint of this version. */
  get position(): number {
    return this.checkpoint;
  }

  get consecutiveFailures(): number {
    return this.consecutiveFailuresCount;
  }

  get lastError(): string | undefined {
    return this.lastErrorMessage;
  }

  /** Events applied by this runner since it started (not positions: filtered events are not counted). */
  get appliedEvents(): number {
    return this.applied;
  }

  async start(): Promise<void> {
    await this.reloadCheckpoint();
    if (!this.stopped) this.subscribe();
  }

  /** True once the version's checkpoint is gone or a tombstone: the version is being dropped. */
  get retired(): boolean {
    return this.retiredVersion;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation += 1;
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
    await this.queue;
  }

  private async reloadCheckpoint(): Promise<void> {
    const { projection, version } = this;
    const row = await withReader(this.options.dataSource, (manager) => loadCheckpoint(manager, projection.name, version));
    if (!row || row.position === RETIRED_POSITION) {
      // Dropped (or being dropped) by a switch: this version must never be written again.
      this.retiredVersion = true;
      this.stopped = true;
      this.options.logger.info('projection version retired; its runner stops', { projection: projection.name, version });
      return;
    }
    this.checkpoint = row.position;
  }

  private subscribe(): void {
    const generation = ++this.generation;
    const { store, batchSize, logger } = this.options;
    this.subscription = store.subscribe(
      {
        onEvents: (events) => this.enqueue(() => this.applyBatch(events, generation)),
        onCaughtUp: (position) => {
          this.enqueue(() => this.advanceTo(position, generation)).catch((error: unknown) =>
            logger.warn('projection checkpoint advance failed', { projection: this.projection.name, version: this.version, ...errorFields(error) }),
          );
        },
        onError: (error) => logger.warn('projection subscription error', { projection: this.projection.name, version: this.version, ...errorFields(error) }),
      },
      { after: this.checkpoint, filter: this.projection.filter, batchSize, ...(this.options.lingerMs !== undefined && { lingerMs: this.options.lingerMs }) },
    );
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private isCurrent(generation: number): boolean {
    return !this.stopped && generation === this.generation && !this.restarting;
  }

  private async applyBatch(events: readonly RecordedEvent[], generation: number): Promise<void> {
    if (!this.isCurrent(generation)) return;
    // At-least-once delivery: anything at or below the checkpoint is already in the rows.
    const fresh = events.filter((event) => event.position > this.checkpoint);
    if (fresh.length === 0) return;
    const expected = this.checkpoint;
    const next = fresh[fresh.length - 1].position;
    const { projection, version } = this;
    try {
      await inWriteTransaction(this.options.dataSource, async (manager) => {
        await compareAndSetCheckpoint(manager, projection.name, version, expected, next);
        await projection.apply(fresh, manager, version);
      });
    } catch (error) {
      if (error instanceof CheckpointConflictError) {
        this.restartFromStoredCheckpoint();
        return;
      }
      this.consecutiveFailuresCount += 1;
      this.lastErrorMessage = error instanceof Error ? error.message : String(error);
      this.options.logger.error('projection batch failed; it will be retried', {
        projection: projection.name,
        version,
        fromPosition: fresh[0].position,
        toPosition: next,
        consecutiveFailures: this.consecutiveFailuresCount,
        ...errorFields(error),
      });
      this.options.onFailure?.(error, this.consecutiveFailuresCount);
      // Rejecting makes the subscription deliver the same batch again (with backoff).
      throw error;
    }
    this.checkpoint = next;
    this.applied += fresh.length;
    this.consecutiveFailuresCount = 0;
    this.lastErrorMessage = undefined;
    this.options.onCommitted?.(next);
    // With SQLite (store and read models) every step of the catch-up loop completes synchronously,
    // so without a macrotask boundary a rebuild would starve timers and I/O — HTTP in the
    // standalone process, progress reports, the manager's own tick — until it finished.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Everything stored up to `position` was delivered: the checkpoint may jump over events the
   * filter skipped, so "has the projection reached P" is answered by the checkpoint alone.
   */
  private async advanceTo(position: number, generation: number): Promise<void> {
    if (!this.isCurrent(generation)) return;
    if (position > this.checkpoint) {
      const expected = this.checkpoint;
      const { projection, version } = this;
      try {
        await inWriteTransaction(this.options.dataSource, (manager) => compareAndSetCheckpoint(manager, projection.name, version, expected, position));
      } catch (error) {
        if (error instanceof CheckpointConflictError) {
          this.restartFromStoredCheckpoint();
          return;
        }
        throw error;
      }
      this.checkpoint = position;
      this.options.onCommitted?.(position);
    }
    this.options.onCaughtUp?.(this.checkpoint);
  }

  /** Drops the current subscription (never awaited from inside its own handler) and resumes from the stored checkpoint. */
  private restartFromStoredCheckpoint(): void {
    if (this.restarting || this.stopped) return;
    this.restarting = true;
    this.generation += 1;
    const previous = this.subscription;
    this.subscription = null;
    const { logger } = this.options;
    logger.warn('projection checkpoint moved under this runner; resuming from the stored checkpoint', {
      projection: this.projection.name,
      version: this.version,
      checkpoint: this.checkpoint,
    });
    const attempt = async (delayMs: number): Promise<void> => {
      try {
        await previous?.stop();
        await this.queue;
        await this.reloadCheckpoint();
        this.restarting = false;
        if (!this.stopped) this.subscribe();
      } catch (error) {
        logger.error('projection restart failed; retrying', { projection: this.projection.name, version: this.version, ...errorFields(error) });
        if (!this.stopped) setTimeout(() => void attempt(Math.min(delayMs * 2, 5000)), delayMs).unref();
      }
    };
    setImmediate(() => void attempt(100));
  }
}
