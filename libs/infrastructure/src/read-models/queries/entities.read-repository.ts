import { DEFAULT_TENANT_ID } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { ENTITIES_PROJECTION } from '../ingestion/entities.projection';
import { EntityStateRecord } from '../ingestion/entity-state.entity';
import { withReader } from '../read-model-transactions';
import { whereActiveVersion } from './active-version';

/** An entity's folded state (domain awareness), as the API returns it. */
export interface EntityView {
  readonly subject: string;
  readonly tenantId: string;
  readonly state: Readonly<Record<string, unknown>>;
  readonly eventCount: number;
  readonly typeCounts: Readonly<Record<string, number>>;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly lastEventType: string;
  /** Global position of the last event folded in. */
  readonly lastPosition: number;
}

export function toEntityView(row: EntityStateRecord): EntityView {
  return {
    subject: row.subject,
    tenantId: row.tenantId,
    state: row.state,
    eventCount: row.eventCount,
    typeCounts: row.typeCounts,
    firstSeen: row.firstSeen,
    lastSeen: row.lastSeen,
    lastEventType: row.lastEventType,
    lastPosition: row.lastPosition,
  };
}

/** Entity state by subject, from the `entities` read model. */
export class EntitiesReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  async get(subject: string, tenantId: string = DEFAULT_TENANT_ID): Promise<EntityView | null> {
    const row = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(EntityStateRecord)
        .createQueryBuilder('en')
        .where('en.tenantId = :tenantId AND en.subject = :subject', { tenantId, subject });
      return whereActiveVersion(builder, manager, 'en', ENTITIES_PROJECTION).getOne();
    });
    return row ? toEntityView(row) : null;
  }
}
