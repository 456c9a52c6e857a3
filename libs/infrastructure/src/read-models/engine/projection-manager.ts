import type { EventStore } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { errorFields, toReadModelLogger, type LoggerLike, type ReadModelLogger } from '../read-model-logger';
import { inWriteTransaction, isPostgresDataSource, withReader } from '../read-model-transactions';
import { deleteVersionChunk } from './drop-projection-version';
import type { Projection, ProjectionState, ProjectionStatus, RebuildProgress } from './projection';
import {
  deleteCheckpoint,
  ensureProjectionState,
  tombstoneCheckpoint,
  insertCheckpointIfAbsent,
  listCheckpoints,
  loadActiveCheckpoints,
  loadState,
  updateState,
} from './projection-bookkeeping';
import { ProjectionCheckpointRecord, ProjectionStateRecord } from './projection-bookkeeping.entities';
import { ProjectionWaitTimeoutError, RebuildAlreadyRunningError, UnknownProjectionError } from './projection-errors';
import { ProjectionRunner } from './projection-runner';
import { RateMeter } from './rate-meter';

export interface ProjectionManagerOptions {
  readonly store: EventStore;
  /** Where projections write (and the bookkeeping lives). */
  readonly dataSource: DataSource;
  /**
   * Where status and waits read committed bookkeeping. On SQLite, pass a second DataSource on the
   * same file (WAL readers never wait for the writer's open transaction); default: `dataSource`.
   */
  readonly readDataSource?: DataSource;
  readonly projections: readonly Projection[];
  readonly logger?: LoggerLike;
  /** Maximum events per transaction while live. Default 500. */
  readonly batchSize?: number;
  /**
   * After an append wakes a projection, how long it waits before reading (default 10 ms): appends
   * arriving meanwhile are projected in the same transaction. A projection's cost is mostly per
   * transaction, so under load this multiplies throughput for a few milliseconds of delay.
   */
  readonly lingerMs?: number;
  /**
   * Maximum events per transaction while rebuilding. Bigger batches mean fewer commits and fewer
   * writes of rows that many events touch (an entity folded five times in a batch is written once).
   * On SQLite a batch holds the single writer for its duration. Default 5000.
   */
  readonly rebuildBatchSize?: number;
  /** How often the manager looks at the state table (rebuilds asked for by other processes, switches) and samples progress. Default 500 ms. */
  readonly pollIntervalMs?: number;
  /** How often `waitForPosition` reads the checkpoint table for checkpoints written by other processes. Default 20 ms. */
  readonly waitPollIntervalMs?: number;
  /** How often a running rebuild logs its progress. Default 5000 ms. */
  readonly progressLogIntervalMs?: number;
  /** Rows per transaction when an old version is dropped. Default 2000. */
  readonly deleteChunkSize?: number;
  /** A rebuild whose batch fails this many times in a row is marked failed; the active version keeps serving. Default 5. */
  readonly maxRebuildFailures?: number;
}

export interface WaitForPositionOptions {
  /** Projections to wait for; default all. */
  readonly projections?: readonly string[];
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
}

export interface RebuildStarted {
  readonly projection: string;
  readonly targetVersion: number;
}

interface RebuildSlot {
  readonly runner: ProjectionRunner;
  readonly targetVersion: number;
  readonly startedAt: string;
  readonly meter: RateMeter;
  state: 'rebuilding' | 'switching' | 'failed';
  caughtUpAt: number | null;
  lastProgressLog: number;
}

interface Slot {
  readonly projection: Projection;
  live: ProjectionRunner | null;
  rebuild: RebuildSlot | null;
  /** Serialises the slot's lifecycle changes (start, rebuild, switch, failure, reconcile). */
  lock: Promise<void>;
  dropping: Set<number>;
  /** Runners of versions no longer active, still stopping: their rows are dropped only once they have. */
  retiring: Map<number, Promise<void>>;
  warnedNewerCode: boolean;
  /** An automatic rebuild (code version changed) was asked for and not yet recorded: ask once. */
  autoRebuildPending: boolean;
}

interface Waiter {
  readonly position: number;
  readonly projections: readonly string[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
  lastKnown: Record<string, number>;
}

/**
 * Runs every projection, rebuilds them on demand, and answers "have the read models reached
 * position P" (read-your-writes).
 *
 * Versioned rebuild (DESIGN §4): rows carry the version they belong to, `projection_states` names the
 * active version. `rebuild(name)` projects version N+1 from position 0 beside N, which keeps serving;
 * once N+1 has caught up with the head, one transaction makes it active, then N's runner stops and
 * N's rows are dropped in chunks. Queries always read the active version (see read repositories).
 *
 * Usable without being started (the gateway's case): `status()`, `waitForPosition()` and
 * `rebuild()` then work through the tables alone, and a running projector picks the rebuild up.
 */
export class ProjectionManager {
  private readonly logger: ReadModelLogger;
  private readonly reader: DataSource;
  private readonly slots = new Map<string, Slot>();
  private readonly waiters = new Set<Waiter>();
  private started = false;
  private stopping = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private ticking = false;
  private waitPollTimer: NodeJS.Timeout | null = null;
  private readonly background = new Set<Promise<void>>();
  private head = 0;

  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly rebuildBatchSize: number;
  private readonly pollIntervalMs: number;
  private readonly waitPollIntervalMs: number;
  private readonly progressLogIntervalMs: number;
  private readonly deleteChunkSize: number;
  private readonly maxRebuildFailures: number;

  constructor(private readonly options: ProjectionManagerOptions) {
    this.logger = toReadModelLogger(options.logger);
    this.reader = options.readDataSource ?? options.dataSource;
    this.batchSize = options.batchSize ?? 500;
    this.lingerMs = options.lingerMs ?? 10;
    this.rebuildBatchSize = options.rebuildBatchSize ?? 5000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.waitPollIntervalMs = options.waitPollIntervalMs ?? 20;
    this.progressLogIntervalMs = options.progressLogIntervalMs ?? 5000;
    this.deleteChunkSize = options.deleteChunkSize ?? 2000;
    this.maxRebuildFailures = options.maxRebuildFailures ?? 5;
    for (const projection of options.projections) {
      if (this.slots.has(projection.name)) throw new Error(`Duplicate projection name "${projection.name}"`);
      this.slots.set(projection.name, { projection, live: null, rebuild: null, lock: Promise.resolve(), dropping: new Set(), retiring: new Map(), warnedNewerCode: false, autoRebuildPending: false });
    }
  }

  get projectionNames(): readonly string[] {
    return [...this.slots.keys()];
  }

  get isRunning(): boolean {
    return this.started && !this.stopping;
  }

  /** Starts every projection from its checkpoint (and resumes or starts the rebuilds the state table asks for). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const { dataSource } = this.options;
    this.head = await this.options.store.headPosition();
    for (const slot of this.slots.values()) {
      await inWriteTransaction(dataSource, (manager) => ensureProjectionState(manager, slot.projection.name, slot.projection.version));
      await this.exclusive(slot, () => this.reconcile(slot));
    }
    this.tickTimer = setInterval(() => void this.tick(), this.pollIntervalMs);
    this.tickTimer.unref();
    this.logger.info('projections started', {
      projections: [...this.slots.values()].map((slot) => ({ name: slot.projection.name, version: slot.live?.version, checkpoint: slot.live?.position })),
      head: this.head,
    });
  }

  /** Stops every runner (a running rebuild resumes from its checkpoint on the next start). */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    const runners: ProjectionRunner[] = [];
    for (const slot of this.slots.values()) {
      await slot.lock;
      if (slot.live) runners.push(slot.live);
      if (slot.rebuild) runners.push(slot.rebuild.runner);
      slot.live = null;
      slot.rebuild = null;
    }
    await Promise.all(runners.map((runner) => runner.stop()));
    await Promise.all([...this.background]);
    this.started = false;
    this.stopping = false;
    this.logger.info('projections stopped');
  }

  /**
   * Starts rebuilding `name` into a new version. Resolves once the rebuild is recorded (and, in a
   * running manager, started); progress is in `status()`.
   */
  async rebuild(name: string): Promise<RebuildStarted> {
    const slot = this.slotOf(name);
    const { projection } = slot;
    // Fast refusal without queueing behind the writer (the claim below checks again, atomically).
    const current = await withReader(this.reader, (manager) => loadState(manager, name));
    if (current && (current.rebuildState === 'rebuilding' || current.rebuildState === 'switching') && current.rebuildVersion !== null) {
      throw new RebuildAlreadyRunningError(name, current.rebuildVersion);
    }
    const targetVersion = await inWriteTransaction(this.options.dataSource, async (manager) => {
      const state = await ensureProjectionState(manager, name, projection.version);
      if ((state.rebuildState === 'rebuilding' || state.rebuildState === 'switching') && state.rebuildVersion !== null) {
        throw new RebuildAlreadyRunningError(name, state.rebuildVersion);
      }
      const versions = (await listCheckpoints(manager, name)).map((checkpoint) => checkpoint.version);
      const target = Math.max(state.activeVersion, state.rebuildVersion ?? 0, ...versions) + 1;
      // Compare-and-set on the state row: of two concurrent requests, exactly one wins.
      const claimed = await manager
        .createQueryBuilder()
        .update(ProjectionStateRecord)
        .set({ rebuildVersion: target, rebuildState: 'rebuilding', rebuildStartedAt: new Date().toISOString(), lastError: null, updatedAt: new Date().toISOString() })
        .where(`${esc(manager, 'projection')} = :name AND (${esc(manager, 'rebuild_state')} IS NULL OR ${esc(manager, 'rebuild_state')} = 'failed')`, { name })
        .execute();
      if (claimed.affected !== 1) {
        const current = await loadState(manager, name);
        throw new RebuildAlreadyRunningError(name, current?.rebuildVersion ?? target);
      }
      await insertCheckpointIfAbsent(manager, name, target, projection.version);
      return target;
    });
    this.logger.info('projection rebuild requested', { projection: name, targetVersion });
    if (this.isRunning) await this.exclusive(slot, () => this.reconcile(slot));
    return { projection: name, targetVersion };
  }

  /** Each projection's versions, checkpoints, lag and state, read from the tables (valid from any process). */
  async status(): Promise<ProjectionStatus[]> {
    const head = await this.options.store.headPosition();
    this.head = Math.max(this.head, head);
    const { states, checkpoints } = await withReader(this.reader, async (manager) => ({
      states: await manager.getRepository(ProjectionStateRecord).find(),
      checkpoints: await manager.getRepository(ProjectionCheckpointRecord).find(),
    }));
    const now = Date.now();
    return [...this.slots.values()].map((slot) => {
      const { projection } = slot;
      const state = states.find((row) => row.projection === projection.name);
      const positionOf = (version: number | null | undefined) =>
        checkpoints.find((row) => row.projection === projection.name && row.version === version)?.position ?? 0;
      const activeVersion = state?.activeVersion ?? 0;
      const checkpoint = positionOf(activeVersion);
      const liveFailing = slot.live !== null && slot.live.consecutiveFailures > 0;
      const local = state?.rebuildVersion !== null && slot.rebuild?.targetVersion === state?.rebuildVersion ? slot.rebuild : null;
      const label: ProjectionState = local?.state ?? state?.rebuildState ?? (liveFailing ? 'failed' : 'live');
      let rebuild: RebuildProgress | undefined;
      if (state?.rebuildVersion !== null && state?.rebuildVersion !== undefined) {
        const position = positionOf(state.rebuildVersion);
        const startedAt = state.rebuildStartedAt ?? new Date(now).toISOString();
        const elapsed = (now - Date.parse(startedAt)) / 1000;
        const rate = local?.meter.rate(now) ?? (elapsed > 0 ? position / elapsed : 0);
        rebuild = {
          targetVersion: state.rebuildVersion,
          position,
          head,
          eventsPerSecond: round(rate),
          etaSeconds: rate > 0 ? round(Math.max(0, head - position) / rate) : position >= head ? 0 : null,
          startedAt,
        };
      }
      const lastError = state?.lastError ?? slot.live?.lastError ?? undefined;
      return {
        name: projection.name,
        version: projection.version,
        activeVersion,
        checkpoint,
        head,
        lag: Math.max(0, head - checkpoint),
        state: label,
        ...(rebuild ? { rebuild } : {}),
        ...(lastError ? { lastError } : {}),
      };
    });
  }

  /**
   * Resolves when the active version of every named projection (default: all) has applied the store
   * up to `position`. Reads the checkpoint table, so it sees projectors in other processes; in the
   * projector's own process each commit also wakes waiters directly.
   */
  async waitForPosition(position: number, options: WaitForPositionOptions = {}): Promise<void> {
    const projections = options.projections ?? this.projectionNames;
    for (const name of projections) this.slotOf(name);
    if (position <= 0 || this.reachedInProcess(position, projections)) return;
    const known = await this.readActiveCheckpoints(projections);
    if (projections.every((name) => (known[name] ?? 0) >= position)) return;
    const timeoutMs = options.timeoutMs ?? 5000;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        position,
        projections,
        lastKnown: known,
        resolve: () => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          resolve();
        },
        reject: (error) => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          reject(error);
        },
        timer: setTimeout(() => {
          const behind = Object.fromEntries(projections.filter((name) => (waiter.lastKnown[name] ?? 0) < position).map((name) => [name, waiter.lastKnown[name] ?? 0]));
          waiter.reject(new ProjectionWaitTimeoutError(position, timeoutMs, behind));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      this.scheduleWaitPoll();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle of one projection

  private slotOf(name: string): Slot {
    const slot = this.slots.get(name);
    if (!slot) throw new UnknownProjectionError(name);
    return slot;
  }

  private exclusive(slot: Slot, work: () => Promise<void>): Promise<void> {
    const result = slot.lock.then(work);
    slot.lock = result.catch(() => undefined);
    return result;
  }

  private track(work: Promise<void>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** Brings the runners of this process in line with the state table. Runs under the slot's lock. */
  private async reconcile(slot: Slot): Promise<void> {
    if (!this.isRunning) return;
    const { projection } = slot;
    const { state, checkpoints } = await withReader(this.reader, async (manager) => ({
      state: await loadState(manager, projection.name),
      checkpoints: await listCheckpoints(manager, projection.name),
    }));
    if (!state) return;

    // The active version: switched by this process, by another one, or first start.
    if (!slot.live || slot.live.version !== state.activeVersion) {
      const previous = slot.live;
      if (slot.rebuild && slot.rebuild.targetVersion === state.activeVersion) {
        slot.live = slot.rebuild.runner;
        slot.rebuild = null;
      } else {
        slot.live = this.createRunner(slot, state.activeVersion, 'live');
        await slot.live.start();
      }
      if (previous) this.retire(slot, previous);
    }

    const active = checkpoints.find((row) => row.version === state.activeVersion);
    const rebuildRunning = (state.rebuildState === 'rebuilding' || state.rebuildState === 'switching') && state.rebuildVersion !== null;
    if (rebuildRunning && state.rebuildVersion !== null) {
      const target = checkpoints.find((row) => row.version === state.rebuildVersion);
      if (target && target.codeVersion !== projection.version) {
        // Requested or started by other code: rebuilding with this code is what the operator wants now.
        this.logger.warn('projection rebuild was started by another code version; restarting it', {
          projection: projection.name,
          targetVersion: state.rebuildVersion,
          codeVersion: target.codeVersion,
          currentCodeVersion: projection.version,
        });
        await this.abandonLocalRebuild(slot);
        await inWriteTransaction(this.options.dataSource, (manager) => updateState(manager, projection.name, { rebuildState: null, rebuildVersion: null }));
        this.track(this.rebuild(projection.name).then(() => undefined, (error: unknown) => this.logger.error('projection rebuild restart failed', { projection: projection.name, ...errorFields(error) })));
        return;
      }
      if (!slot.rebuild || slot.rebuild.targetVersion !== state.rebuildVersion || slot.rebuild.state === 'failed') {
        await this.abandonLocalRebuild(slot);
        await inWriteTransaction(this.options.dataSource, (manager) => insertCheckpointIfAbsent(manager, projection.name, state.rebuildVersion as number, projection.version));
        await this.startRebuildRunner(slot, state.rebuildVersion, state.rebuildStartedAt ?? new Date().toISOString());
      }
    } else if (slot.rebuild && slot.rebuild.state !== 'failed') {
      // The state table no longer asks for this rebuild (another process switched or failed it).
      await this.abandonLocalRebuild(slot);
    }

    if (!rebuildRunning && state.rebuildState !== 'failed' && active && active.codeVersion < projection.version && !slot.autoRebuildPending) {
      slot.autoRebuildPending = true;
      this.logger.info('projection code version changed; rebuilding', {
        projection: projection.name,
        activeVersion: state.activeVersion,
        builtByCodeVersion: active.codeVersion,
        codeVersion: projection.version,
      });
      this.track(
        this.rebuild(projection.name)
          .then(
            () => undefined,
            (error: unknown) => {
              if (!(error instanceof RebuildAlreadyRunningError)) this.logger.error('automatic projection rebuild failed to start', { projection: projection.name, ...errorFields(error) });
            },
          )
          .finally(() => {
            slot.autoRebuildPending = false;
          }),
      );
    } else if (active && active.codeVersion > projection.version && !slot.warnedNewerCode) {
      slot.warnedNewerCode = true;
      this.logger.warn('active projection version was built by newer code than this process runs', {
        projection: projection.name,
        builtByCodeVersion: active.codeVersion,
        codeVersion: projection.version,
      });
    }

    // Versions nobody needs any more: an old version whose drop was interrupted, a failed rebuild
    // superseded by a newer one.
    const keep = new Set([state.activeVersion, ...(state.rebuildVersion !== null ? [state.rebuildVersion] : [])]);
    for (const checkpoint of checkpoints) {
      if (!keep.has(checkpoint.version)) this.scheduleDrop(slot, checkpoint.version);
    }
  }

  private createRunner(slot: Slot, version: number, role: 'live' | 'rebuild'): ProjectionRunner {
    const { store, dataSource } = this.options;
    return new ProjectionRunner({
      projection: slot.projection,
      version,
      store,
      dataSource,
      batchSize: role === 'live' ? this.batchSize : this.rebuildBatchSize,
      lingerMs: this.lingerMs,
      logger: this.logger,
      onCommitted: (position) => {
        if (slot.rebuild?.runner.version === version) slot.rebuild.meter.sample(position, Date.now());
        if (slot.live?.version === version) this.checkWaitersInProcess();
      },
      onCaughtUp: (position) => {
        const rebuild = slot.rebuild;
        if (rebuild && rebuild.runner.version === version && rebuild.state === 'rebuilding') {
          rebuild.caughtUpAt = position;
          void this.exclusive(slot, () => this.trySwitch(slot)).catch((error: unknown) =>
            this.logger.error('projection switch failed', { projection: slot.projection.name, ...errorFields(error) }),
          );
        }
      },
      onFailure: (error, consecutive) => {
        const rebuild = slot.rebuild;
        if (rebuild && rebuild.runner.version === version && consecutive >= this.maxRebuildFailures) {
          void this.exclusive(slot, () => this.failRebuild(slot, version, error)).catch((failure: unknown) =>
            this.logger.error('recording the projection rebuild failure failed', { projection: slot.projection.name, ...errorFields(failure) }),
          );
        }
      },
    });
  }

  private async startRebuildRunner(slot: Slot, targetVersion: number, startedAt: string): Promise<void> {
    const runner = this.createRunner(slot, targetVersion, 'rebuild');
    const meter = new RateMeter();
    slot.rebuild = { runner, targetVersion, startedAt, meter, state: 'rebuilding', caughtUpAt: null, lastProgressLog: Date.now() };
    await runner.start();
    meter.sample(runner.position, Date.now());
    this.logger.info('projection rebuild started', {
      projection: slot.projection.name,
      activeVersion: slot.live?.version,
      targetVersion,
      fromPosition: runner.position,
      head: this.head,
    });
  }

  private async abandonLocalRebuild(slot: Slot): Promise<void> {
    const rebuild = slot.rebuild;
    if (!rebuild) return;
    slot.rebuild = null;
    await rebuild.runner.stop();
  }

  /**
   * Makes the rebuilt version active once it is at least as far as the active one. One transaction:
   * on PostgreSQL the active version's checkpoint row is locked first, so it cannot move past the
   * rebuilt version between the comparison and the commit (a reader who saw position P before the
   * switch still sees it after); then the state row is compare-and-set (still this active version,
   * still this rebuild). Lock order checkpoint → state; no other transaction takes them the other way.
   */
  private async trySwitch(slot: Slot): Promise<void> {
    const rebuild = slot.rebuild;
    const live = slot.live;
    if (!this.isRunning || !rebuild || !live || rebuild.state !== 'rebuilding' || rebuild.caughtUpAt === null) return;
    const { projection } = slot;
    const { dataSource } = this.options;
    rebuild.state = 'switching';
    const fromVersion = live.version;
    const toVersion = rebuild.targetVersion;
    let outcome: 'switched' | 'behind' | 'superseded';
    try {
      outcome = await inWriteTransaction(dataSource, async (manager) => {
        const oldCheckpoint = manager
          .getRepository(ProjectionCheckpointRecord)
          .createQueryBuilder('c')
          .where('c.projection = :name AND c.version = :version', { name: projection.name, version: fromVersion });
        if (isPostgresDataSource(dataSource)) oldCheckpoint.setLock('pessimistic_write');
        const old = await oldCheckpoint.getOne();
        const rebuilt = await manager.getRepository(ProjectionCheckpointRecord).findOne({ where: { projection: projection.name, version: toVersion } });
        if (!rebuilt || (old && rebuilt.position < old.position)) return 'behind';
        const switched = await manager
          .createQueryBuilder()
          .update(ProjectionStateRecord)
          .set({ activeVersion: toVersion, rebuildVersion: null, rebuildState: null, rebuildStartedAt: null, lastError: null, updatedAt: new Date().toISOString() })
          .where(
            `${esc(manager, 'projection')} = :name AND ${esc(manager, 'active_version')} = :from AND ${esc(manager, 'rebuild_version')} = :to AND ${esc(manager, 'rebuild_state')} = 'rebuilding'`,
            { name: projection.name, from: fromVersion, to: toVersion },
          )
          .execute();
        return switched.affected === 1 ? 'switched' : 'superseded';
      });
    } catch (error) {
      rebuild.state = 'rebuilding';
      throw error;
    }
    if (outcome === 'behind') {
      // The active version moved on meanwhile: switch at the next catch-up (or tick).
      rebuild.state = 'rebuilding';
      return;
    }
    if (outcome === 'superseded') {
      rebuild.state = 'rebuilding';
      await this.reconcile(slot);
      return;
    }
    slot.live = rebuild.runner;
    slot.rebuild = null;
    const now = Date.now();
    const seconds = (now - Date.parse(rebuild.startedAt)) / 1000;
    this.logger.info('projection switched to rebuilt version', {
      projection: projection.name,
      fromVersion,
      toVersion,
      position: rebuild.runner.position,
      durationSeconds: round(seconds),
      eventsPerSecond: round(seconds > 0 ? rebuild.runner.position / seconds : 0),
    });
    this.checkWaitersInProcess();
    this.retire(slot, live);
    this.scheduleDrop(slot, fromVersion);
  }

  private async failRebuild(slot: Slot, version: number, error: unknown): Promise<void> {
    const rebuild = slot.rebuild;
    if (!rebuild || rebuild.targetVersion !== version || rebuild.state === 'failed') return;
    rebuild.state = 'failed';
    await rebuild.runner.stop();
    const message = error instanceof Error ? error.message : String(error);
    await inWriteTransaction(this.options.dataSource, (manager) =>
      manager
        .createQueryBuilder()
        .update(ProjectionStateRecord)
        .set({ rebuildState: 'failed', lastError: message, updatedAt: new Date().toISOString() })
        .where(`${esc(manager, 'projection')} = :name AND ${esc(manager, 'rebuild_version')} = :version`, { name: slot.projection.name, version })
        .execute(),
    );
    this.logger.error('projection rebuild failed; the active version keeps serving', {
      projection: slot.projection.name,
      targetVersion: version,
      position: rebuild.runner.position,
      ...errorFields(error),
    });
  }

  private retire(slot: Slot, runner: ProjectionRunner): void {
    const stopping = runner.stop().finally(() => {
      if (slot.retiring.get(runner.version) === stopping) slot.retiring.delete(runner.version);
    });
    slot.retiring.set(runner.version, stopping);
    this.track(stopping);
  }

  /**
   * Drops a version's rows chunk by chunk, then its checkpoint. First the checkpoint becomes a
   * tombstone (position -1): from then on any writer still holding that version (a runner stopping
   * here, a projector in another process) fails its compare-and-set, so no row lands after the drop;
   * the tombstone also lets the next reconcile finish a drop that stop() interrupted.
   */
  private scheduleDrop(slot: Slot, version: number): void {
    if (slot.dropping.has(version)) return;
    slot.dropping.add(version);
    const { projection } = slot;
    const { dataSource } = this.options;
    const work = async () => {
      await slot.retiring.get(version);
      if (!this.isRunning) return;
      const retired = await inWriteTransaction(dataSource, async (manager) => {
        // Never drop what became active or rebuilding meanwhile.
        const state = await loadState(manager, projection.name);
        if (!state || state.activeVersion === version || state.rebuildVersion === version) return false;
        await tombstoneCheckpoint(manager, projection.name, version);
        return true;
      });
      if (!retired) return;
      let deleted = 0;
      for (const table of projection.tables) {
        for (;;) {
          if (!this.isRunning) return;
          const count = await inWriteTransaction(dataSource, (manager) => deleteVersionChunk(manager, table, version, this.deleteChunkSize));
          deleted += count;
          if (count < this.deleteChunkSize) break;
        }
      }
      await inWriteTransaction(dataSource, (manager) => deleteCheckpoint(manager, projection.name, version));
      this.logger.info('projection version dropped', { projection: projection.name, version, rows: deleted });
    };
    this.track(
      work()
        .catch((error: unknown) => this.logger.error('dropping a projection version failed', { projection: projection.name, version, ...errorFields(error) }))
        .finally(() => slot.dropping.delete(version)),
    );
  }

  /** Periodic: pick up requests and switches made elsewhere, retry a pending switch, log progress. */
  private async tick(): Promise<void> {
    if (this.ticking || !this.isRunning) return;
    this.ticking = true;
    try {
      this.head = await this.options.store.headPosition();
      const now = Date.now();
      for (const slot of this.slots.values()) {
        await this.exclusive(slot, () => this.reconcile(slot)).catch((error: unknown) =>
          this.logger.error('projection reconcile failed', { projection: slot.projection.name, ...errorFields(error) }),
        );
        const rebuild = slot.rebuild;
        if (!rebuild) continue;
        if (rebuild.state === 'rebuilding' && rebuild.caughtUpAt !== null) {
          await this.exclusive(slot, () => this.trySwitch(slot)).catch((error: unknown) =>
            this.logger.error('projection switch failed', { projection: slot.projection.name, ...errorFields(error) }),
          );
        }
        if (slot.rebuild === rebuild && rebuild.state === 'rebuilding' && now - rebuild.lastProgressLog >= this.progressLogIntervalMs) {
          rebuild.lastProgressLog = now;
          const position = rebuild.runner.position;
          const rate = rebuild.meter.rate(now);
          this.logger.info('projection rebuild progress', {
            projection: slot.projection.name,
            targetVersion: rebuild.targetVersion,
            position,
            head: this.head,
            percent: this.head > 0 ? round((100 * position) / this.head) : 100,
            eventsPerSecond: round(rate),
            etaSeconds: rate > 0 ? round(Math.max(0, this.head - position) / rate) : null,
          });
        }
      }
    } catch (error) {
      this.logger.warn('projection manager tick failed', errorFields(error));
    } finally {
      this.ticking = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // waitForPosition

  private reachedInProcess(position: number, projections: readonly string[]): boolean {
    if (!this.isRunning) return false;
    return projections.every((name) => {
      const live = this.slots.get(name)?.live;
      return live !== null && live !== undefined && live.position >= position;
    });
  }

  private checkWaitersInProcess(): void {
    for (const waiter of [...this.waiters]) {
      if (this.reachedInProcess(waiter.position, waiter.projections)) waiter.resolve();
    }
  }

  private async readActiveCheckpoints(projections: readonly string[]): Promise<Record<string, number>> {
    const rows = await withReader(this.reader, (manager) => loadActiveCheckpoints(manager, projections));
    return Object.fromEntries(rows.map((row) => [row.projection, row.position]));
  }

  private scheduleWaitPoll(): void {
    if (this.waitPollTimer || this.waiters.size === 0) return;
    this.waitPollTimer = setTimeout(() => {
      void this.pollWaiters().finally(() => {
        this.waitPollTimer = null;
        this.scheduleWaitPoll();
      });
    }, this.waitPollIntervalMs);
  }

  private async pollWaiters(): Promise<void> {
    const waiters = [...this.waiters];
    if (waiters.length === 0) return;
    const names = [...new Set(waiters.flatMap((waiter) => waiter.projections))];
    let known: Record<string, number>;
    try {
      known = await this.readActiveCheckpoints(names);
    } catch (error) {
      this.logger.warn('reading projection checkpoints failed', errorFields(error));
      return;
    }
    for (const waiter of waiters) {
      waiter.lastKnown = known;
      if (waiter.projections.every((name) => (known[name] ?? 0) >= waiter.position)) waiter.resolve();
    }
  }
}

function esc(manager: { connection: DataSource }, name: string): string {
  return manager.connection.driver.escape(name);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
