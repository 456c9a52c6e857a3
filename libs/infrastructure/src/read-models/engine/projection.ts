import type { EventFilter, RecordedEvent } from '@meridian/domain';
import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * A projection folds events from the store into read-model rows.
 *
 * Invariants the engine relies on:
 * - `apply` only writes through the given manager (the batch's transaction, which also advances the
 *   checkpoint), and only rows of `targetVersion`: several versions of one projection coexist while
 *   a rebuild runs.
 * - `apply` is a pure function of the events and the rows already written for `targetVersion`:
 *   no side effects (nothing is sent or called), so a rebuild replays history safely.
 * - Every table in `tables` has `projection_version` as the first primary-key column, so the engine
 *   can drop a whole version (after a switch, or a failed rebuild).
 */
export interface Projection {
  readonly name: string;
  /** Code version: bump it when the fold changes; a projection whose active rows were built by an older code version is rebuilt on start. */
  readonly version: number;
  /** Which events the subscription delivers; `apply` still ignores what it does not understand. */
  readonly filter: EventFilter;
  readonly tables: readonly EntityTarget<ObjectLiteral>[];
  /** Events are in global order, strictly after the checkpoint, never empty. */
  apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void>;
}

export type ProjectionState = 'live' | 'rebuilding' | 'switching' | 'failed';

export interface RebuildProgress {
  readonly targetVersion: number;
  readonly position: number;
  readonly head: number;
  /** Global positions processed per second (recent rate in the projector process, else the average since start). */
  readonly eventsPerSecond: number;
  /** Seconds until the rebuild reaches the head at the current rate; null while the rate is unknown. */
  readonly etaSeconds: number | null;
  readonly startedAt: string;
}

export interface ProjectionStatus {
  readonly name: string;
  /** Code version of the projection in this process. */
  readonly version: number;
  /** The version (generation) whose rows queries read. */
  readonly activeVersion: number;
  /** Checkpoint of the active version. */
  readonly checkpoint: number;
  readonly head: number;
  readonly lag: number;
  readonly state: ProjectionState;
  readonly rebuild?: RebuildProgress;
  readonly lastError?: string;
}
