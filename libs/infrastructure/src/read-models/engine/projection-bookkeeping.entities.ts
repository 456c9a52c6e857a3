import { Column, Entity, PrimaryColumn } from 'typeorm';
import { positionColumn, timestampColumn } from '../column-types';

/**
 * One row per (projection, version): how far that version has applied the store. Advanced in the
 * same transaction as the rows it covers, with a compare-and-set on the previous position.
 */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpointRecord {
  @PrimaryColumn({ name: 'projection', type: 'varchar', length: 128 })
  projection!: string;

  @PrimaryColumn({ name: 'version', type: 'integer' })
  version!: number;

  /** The projection's code version that writes this version's rows. */
  @Column({ name: 'code_version', type: 'integer' })
  codeVersion!: number;

  @Column(positionColumn('position'))
  position!: number;

  @Column(timestampColumn('updated_at'))
  updatedAt!: string;
}

/**
 * One row per projection: the version queries read, and the rebuild in progress if any. A row with
 * `rebuild_state = 'rebuilding'` is also the request: whichever projector process runs the
 * projection picks it up, so a rebuild can be asked for from another process (the gateway).
 */
@Entity({ name: 'projection_states' })
export class ProjectionStateRecord {
  @PrimaryColumn({ name: 'projection', type: 'varchar', length: 128 })
  projection!: string;

  @Column({ name: 'active_version', type: 'integer' })
  activeVersion!: number;

  @Column({ name: 'rebuild_version', type: 'integer', nullable: true })
  rebuildVersion!: number | null;

  @Column({ name: 'rebuild_state', type: 'varchar', length: 16, nullable: true })
  rebuildState!: 'rebuilding' | 'switching' | 'failed' | null;

  @Column({ ...timestampColumn('rebuild_started_at'), nullable: true })
  rebuildStartedAt!: string | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column(timestampColumn('updated_at'))
  updatedAt!: string;
}
