import type { RecordedEvent } from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { insertRows } from '../shared/row-writes';
import { readIngestedEvent } from './ingested-event';
import { IngestedEventRecord } from './ingested-event.entity';
import { ingestionFilter, type TenantScope } from './ingestion-filter';

export const EVENTS_PROJECTION = 'events';

/** Projects ingested domain events into `rm_events`, one row per event, keyed by global position. */
export class EventsProjection implements Projection {
  readonly name = EVENTS_PROJECTION;
  readonly version = 1;
  readonly tables = [IngestedEventRecord];
  readonly filter;

  constructor(tenants: TenantScope = 'all') {
    this.filter = ingestionFilter(tenants);
  }

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const rows: IngestedEventRecord[] = [];
    for (const event of events) {
      const ingested = readIngestedEvent(event);
      if (!ingested) continue;
      rows.push({
        projectionVersion: targetVersion,
        position: ingested.position,
        tenantId: ingested.tenantId,
        eventId: ingested.eventId,
        ceId: ingested.ceId,
        source: ingested.source,
        type: ingested.type,
        subject: ingested.subject,
        time: ingested.time,
        datacontenttype: ingested.datacontenttype,
        dataschema: ingested.dataschema,
        extensions: { ...ingested.extensions },
        data: ingested.data,
        recordedAt: ingested.recordedAt,
      });
    }
    await insertRows(manager, IngestedEventRecord, rows);
  }
}
