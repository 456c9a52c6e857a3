import { evolveEntityState, type EntityState, type RecordedEvent } from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { upsertRows } from '../shared/row-writes';
import { readIngestedEvent } from './ingested-event';
import { EntityStateRecord } from './entity-state.entity';
import { ingestionFilter, type TenantScope } from './ingestion-filter';

export const ENTITIES_PROJECTION = 'entities';

const CHUNK = 300;

/**
 * Projects ingested domain events into `rm_entities`: per (tenant, subject), the state folded with
 * evolveEntityState. A batch loads the rows of the subjects it touches once, folds all their events
 * in memory, and upserts each row once.
 */
export class EntitiesProjection implements Projection {
  readonly name = ENTITIES_PROJECTION;
  readonly version = 1;
  readonly tables = [EntityStateRecord];
  readonly filter;

  constructor(tenants: TenantScope = 'all') {
    this.filter = ingestionFilter(tenants);
  }

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const touched = new Map<string, { tenantId: string; subject: string; state: EntityState | null; lastPosition: number }>();
    const keyOf = (tenantId: string, subject: string) => JSON.stringify([tenantId, subject]);
    const ingestedEvents = [];
    for (const event of events) {
      const ingested = readIngestedEvent(event);
      if (!ingested || ingested.subject === null) continue;
      ingestedEvents.push(ingested);
      const key = keyOf(ingested.tenantId, ingested.subject);
      if (!touched.has(key)) touched.set(key, { tenantId: ingested.tenantId, subject: ingested.subject, state: null, lastPosition: 0 });
    }
    if (ingestedEvents.length === 0) return;

    const subjectsByTenant = new Map<string, string[]>();
    for (const { tenantId, subject } of touched.values()) subjectsByTenant.set(tenantId, [...(subjectsByTenant.get(tenantId) ?? []), subject]);
    for (const [tenantId, subjects] of subjectsByTenant) {
      for (let start = 0; start < subjects.length; start += CHUNK) {
        const existing = await manager
          .getRepository(EntityStateRecord)
          .createQueryBuilder('e')
          .where('e.projectionVersion = :version AND e.tenantId = :tenantId AND e.subject IN (:...subjects)', {
            version: targetVersion,
            tenantId,
            subjects: subjects.slice(start, start + CHUNK),
          })
          .getMany();
        for (const row of existing) {
          const entry = touched.get(keyOf(row.tenantId, row.subject));
          if (!entry) continue;
          entry.state = {
            subject: row.subject,
            state: row.state,
            eventCount: row.eventCount,
            firstSeen: row.firstSeen,
            lastSeen: row.lastSeen,
            lastEventType: row.lastEventType,
            typeCounts: row.typeCounts,
          };
          entry.lastPosition = row.lastPosition;
        }
      }
    }

    for (const ingested of ingestedEvents) {
      const entry = touched.get(keyOf(ingested.tenantId, ingested.subject as string));
      if (!entry || ingested.position <= entry.lastPosition) continue;
      entry.state = evolveEntityState(entry.state, entry.subject, { type: ingested.type, data: ingested.data, time: ingested.time ?? ingested.recordedAt });
      entry.lastPosition = ingested.position;
    }

    const rows: EntityStateRecord[] = [];
    for (const entry of touched.values()) {
      if (!entry.state) continue;
      rows.push({
        projectionVersion: targetVersion,
        tenantId: entry.tenantId,
        subject: entry.subject,
        state: { ...entry.state.state },
        typeCounts: { ...entry.state.typeCounts },
        eventCount: entry.state.eventCount,
        firstSeen: entry.state.firstSeen,
        lastSeen: entry.state.lastSeen,
        lastEventType: entry.state.lastEventType,
        lastPosition: entry.lastPosition,
      });
    }
    await upsertRows(manager, EntityStateRecord, rows);
  }
}
