import { DomainError } from '@meridian/domain';

/** A projection name that no projection in this process has. Maps to 404. */
export class UnknownProjectionError extends DomainError {
  constructor(readonly projection: string) {
    super('PROJECTION_NOT_FOUND', 'not-found', `Unknown projection "${projection}"`, { projection });
    this.name = 'UnknownProjectionError';
  }
}

/** A rebuild was requested while one of the same projection is still running. Maps to 409. */
export class RebuildAlreadyRunningError extends DomainError {
  constructor(
    readonly projection: string,
    readonly targetVersion: number,
  ) {
    super('PROJECTION_REBUILD_RUNNING', 'conflict', `Projection "${projection}" is already rebuilding version ${targetVersion}`, {
      projection,
      targetVersion,
    });
    this.name = 'RebuildAlreadyRunningError';
  }
}

/** The read models did not reach a position in time (read-your-writes gave up). */
export class ProjectionWaitTimeoutError extends Error {
  readonly code = 'PROJECTION_WAIT_TIMEOUT';
  constructor(
    readonly position: number,
    readonly timeoutMs: number,
    /** The projections still behind, with their active checkpoints. */
    readonly behind: Readonly<Record<string, number>>,
  ) {
    super(`Read models did not reach position ${position} within ${timeoutMs} ms (behind: ${JSON.stringify(behind)})`);
    this.name = 'ProjectionWaitTimeoutError';
  }
}

/** The checkpoint moved under a writer (another projector applied the batch): the transaction is aborted. */
export class CheckpointConflictError extends Error {
  constructor(
    readonly projection: string,
    readonly version: number,
    readonly expected: number,
  ) {
    super(`Checkpoint of ${projection} v${version} is no longer at ${expected}`);
    this.name = 'CheckpointConflictError';
  }
}
