import { Column, Entity, PrimaryColumn } from 'typeorm';
import { jsonColumn, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/** Read model `entities`: per subject, the state folded from its domain events (evolveEntityState). */
@Entity({ name: 'rm_entities' })
export class EntityStateRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'subject', type: 'text' })
  subject!: string;

  @Column(jsonColumn('state'))
  state!: Record<string, unknown>;

  @Column(jsonColumn('type_counts'))
  typeCounts!: Record<string, number>;

  @Column({ name: 'event_count', type: 'integer' })
  eventCount!: number;

  @Column(timestampColumn('first_seen'))
  firstSeen!: string;

  @Column(timestampColumn('last_seen'))
  lastSeen!: string;

  @Column({ name: 'last_event_type', type: 'text' })
  lastEventType!: string;

  /** Global position of the last event folded in. */
  @Column(positionColumn('last_position'))
  lastPosition!: number;
}
