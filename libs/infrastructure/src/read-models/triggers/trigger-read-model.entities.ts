import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonColumn, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/** Read model `triggers`: one row per trigger, its current definition and state. */
@Entity({ name: 'rm_triggers' })
@Index('ix_rm_triggers_created', ['projectionVersion', 'tenantId', 'createdPosition'])
export class TriggerRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'trigger_id', type: 'text' })
  triggerId!: string;

  /** The owning agent. */
  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'name', type: 'text' })
  name!: string;

  /** The whole TriggerDefinition in force (name, condition, action, cooldown). */
  @Column(jsonColumn('definition'))
  definition!: Record<string, unknown>;

  @Column({ name: 'definition_version', type: 'integer' })
  definitionVersion!: number;

  @Column({ name: 'enabled', type: 'boolean' })
  enabled!: boolean;

  @Column({ name: 'deleted', type: 'boolean' })
  deleted!: boolean;

  @Column({ name: 'firing_count', type: 'integer' })
  firingCount!: number;

  @Column({ ...timestampColumn('last_fired_at'), nullable: true })
  lastFiredAt!: string | null;

  /** Revision of the trigger's stream after its last event (ETag). */
  @Column({ name: 'revision', type: 'integer' })
  revision!: number;

  @Column(timestampColumn('created_at'))
  createdAt!: string;

  @Column(timestampColumn('updated_at'))
  updatedAt!: string;

  @Column(positionColumn('created_position'))
  createdPosition!: number;

  @Column(positionColumn('last_position'))
  lastPosition!: number;
}

/** Each firing of a trigger, with the events that matched. */
@Entity({ name: 'rm_trigger_firings' })
@Index('ix_rm_trigger_firings_trigger', ['projectionVersion', 'tenantId', 'triggerId', 'position'])
export class TriggerFiringRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'trigger_id', type: 'text' })
  triggerId!: string;

  @PrimaryColumn({ name: 'firing_id', type: 'text' })
  firingId!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'occurrence_key', type: 'text' })
  occurrenceKey!: string;

  /** `[{ eventId, position, type, subject, time }]`. */
  @Column(jsonColumn('matched_events'))
  matchedEvents!: Array<Record<string, unknown>>;

  /** The action as defined (templates unrendered). */
  @Column(jsonColumn('action'))
  action!: Record<string, unknown>;

  /** The trigger's definition version it fired with. */
  @Column({ name: 'definition_version', type: 'integer' })
  definitionVersion!: number;

  @Column(timestampColumn('fired_at'))
  firedAt!: string;

  /** The window's subject; null for global windows and schedules. */
  @Column({ name: 'subject', type: 'text', nullable: true })
  subject!: string | null;

  /** Decided by a deadline the engine reached late (it was down or behind). */
  @Column({ name: 'late', type: 'boolean', default: false })
  late!: boolean;

  @Column(positionColumn('position'))
  position!: number;
}
