import type { EntityManager } from 'typeorm';
import { CheckpointConflictError } from './projection-errors';
import { ProjectionCheckpointRecord, ProjectionStateRecord } from './projection-bookkeeping.entities';

/** Reads and writes of the checkpoint and state tables. Every function runs in the caller's transaction. */

const now = () => new Date().toISOString();
/** Quoted identifier (`position` and `version` are keywords in some SQL dialects). */
const id = (manager: EntityManager, name: string) => manager.connection.driver.escape(name);

export async function loadState(manager: EntityManager, projection: string): Promise<ProjectionStateRecord | null> {
  return manager.getRepository(ProjectionStateRecord).findOne({ where: { projection } });
}

export async function loadCheckpoint(manager: EntityManager, projection: string, version: number): Promise<ProjectionCheckpointRecord | null> {
  return manager.getRepository(ProjectionCheckpointRecord).findOne({ where: { projection, version } });
}

export async function listCheckpoints(manager: EntityManager, projection: string): Promise<ProjectionCheckpointRecord[]> {
  return manager.getRepository(ProjectionCheckpointRecord).find({ where: { projection }, order: { version: 'ASC' } });
}

/** Creates the checkpoint row if it does not exist (another process may have created it first). */
export async function insertCheckpointIfAbsent(manager: EntityManager, projection: string, version: number, codeVersion: number): Promise<void> {
  await manager
    .createQueryBuilder()
    .insert()
    .into(ProjectionCheckpointRecord)
    .values({ projection, version, codeVersion, position: 0, updatedAt: now() })
    .orIgnore()
    .execute();
}

/**
 * First start of a projection: version 1 becomes active at position 0 (nothing to serve before it).
 * Idempotent across concurrent starters.
 */
export async function ensureProjectionState(manager: EntityManager, projection: string, codeVersion: number): Promise<ProjectionStateRecord> {
  await manager
    .createQueryBuilder()
    .insert()
    .into(ProjectionStateRecord)
    .values({ projection, activeVersion: 1, rebuildVersion: null, rebuildState: null, rebuildStartedAt: null, lastError: null, updatedAt: now() })
    .orIgnore()
    .execute();
  const state = await loadState(manager, projection);
  if (!state) throw new Error(`Projection state of ${projection} could not be created`);
  const active = await loadCheckpoint(manager, projection, state.activeVersion);
  if (!active) await insertCheckpointIfAbsent(manager, projection, state.activeVersion, codeVersion);
  return state;
}

/**
 * Advances a checkpoint only if it is still where this writer last saw it. Called FIRST in a batch's
 * transaction: on PostgreSQL the row lock makes a concurrent writer of the same checkpoint wait, then
 * its compare fails, so a batch is never applied twice; on 0 rows the caller's transaction aborts.
 */
export async function compareAndSetCheckpoint(manager: EntityManager, projection: string, version: number, expected: number, next: number): Promise<void> {
  const result = await manager
    .createQueryBuilder()
    .update(ProjectionCheckpointRecord)
    .set({ position: next, updatedAt: now() })
    .where(`${id(manager, 'projection')} = :projection AND ${id(manager, 'version')} = :version AND ${id(manager, 'position')} = :expected`, {
      projection,
      version,
      expected,
    })
    .execute();
  if (result.affected !== 1) throw new CheckpointConflictError(projection, version, expected);
}

export interface ActiveCheckpoint {
  readonly projection: string;
  readonly activeVersion: number;
  readonly position: number;
}

/** The checkpoint queries depend on: that of each projection's active version. One statement, one snapshot. */
export async function loadActiveCheckpoints(manager: EntityManager, projections?: readonly string[]): Promise<ActiveCheckpoint[]> {
  const query = manager
    .createQueryBuilder(ProjectionStateRecord, 's')
    .innerJoin(ProjectionCheckpointRecord, 'c', 'c.projection = s.projection AND c.version = s.active_version')
    .select('s.projection', 'projection')
    .addSelect('s.active_version', 'activeVersion')
    .addSelect('c.position', 'position');
  if (projections) query.where('s.projection IN (:...projections)', { projections: projections.length > 0 ? [...projections] : [''] });
  const rows = await query.getRawMany<{ projection: string; activeVersion: number | string; position: number | string }>();
  return rows.map((row) => ({ projection: row.projection, activeVersion: Number(row.activeVersion), position: Number(row.position) }));
}

export async function updateState(manager: EntityManager, projection: string, changes: Partial<Omit<ProjectionStateRecord, 'projection'>>): Promise<number> {
  const result = await manager
    .createQueryBuilder()
    .update(ProjectionStateRecord)
    .set({ ...changes, updatedAt: now() })
    .where(`${id(manager, 'projection')} = :projection`, { projection })
    .execute();
  return result.affected ?? 0;
}

export async function deleteCheckpoint(manager: EntityManager, projection: string, version: number): Promise<void> {
  await manager.getRepository(ProjectionCheckpointRecord).delete({ projection, version });
}

/** Position of a checkpoint whose version is being dropped: no compare-and-set from a real position matches it. */
export const RETIRED_POSITION = -1;

export async function tombstoneCheckpoint(manager: EntityManager, projection: string, version: number): Promise<void> {
  await manager
    .createQueryBuilder()
    .update(ProjectionCheckpointRecord)
    .set({ position: RETIRED_POSITION, updatedAt: now() })
    .where(`${id(manager, 'projection')} = :projection AND ${id(manager, 'version')} = :version`, { projection, version })
    .execute();
}
