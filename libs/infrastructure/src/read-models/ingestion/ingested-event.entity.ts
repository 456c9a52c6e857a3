import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonColumn, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/** Read model `events`: every ingested domain event, in global order. */
@Entity({ name: 'rm_events' })
@Index('ix_rm_events_tenant_position', ['projectionVersion', 'tenantId', 'position'])
@Index('ix_rm_events_tenant_type', ['projectionVersion', 'tenantId', 'type', 'position'])
@Index('ix_rm_events_tenant_subject', ['projectionVersion', 'tenantId', 'subject', 'position'])
export class IngestedEventRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(positionColumn('position'))
  position!: number;

  @Column(tenantColumn())
  tenantId!: string;

  /** The stored event's id (the store's idempotency key). */
  @Column({ name: 'event_id', type: 'text' })
  eventId!: string;

  /** CloudEvent `id`; with `source` it identifies the event. */
  @Column({ name: 'ce_id', type: 'text' })
  ceId!: string;

  @Column({ name: 'source', type: 'text' })
  source!: string;

  @Column({ name: 'type', type: 'text' })
  type!: string;

  @Column({ name: 'subject', type: 'text', nullable: true })
  subject!: string | null;

  @Column({ ...timestampColumn('time'), nullable: true })
  time!: string | null;

  @Column({ name: 'datacontenttype', type: 'text', nullable: true })
  datacontenttype!: string | null;

  @Column({ name: 'dataschema', type: 'text', nullable: true })
  dataschema!: string | null;

  @Column(jsonColumn('extensions'))
  extensions!: Record<string, string | number | boolean>;

  @Column({ ...jsonColumn('data'), nullable: true })
  data!: unknown;

  @Column(timestampColumn('recorded_at'))
  recordedAt!: string;
}
