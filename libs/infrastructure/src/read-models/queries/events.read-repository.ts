import { DEFAULT_TENANT_ID, invalid } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { EVENTS_PROJECTION } from '../ingestion/events.projection';
import { IngestedEventRecord } from '../ingestion/ingested-event.entity';
import { withReader } from '../read-model-transactions';
import { whereActiveVersion } from './active-version';
import { decodeCursor, pageLimit, toPage, type Page } from './pagination';

/** An ingested domain event as the API returns it: the CloudEvent plus where it sits in the store. */
export interface IngestedEventView {
  readonly position: number;
  /** The stored event's id. */
  readonly eventId: string;
  /** CloudEvent `id`. */
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string | null;
  readonly time: string | null;
  readonly datacontenttype: string | null;
  readonly dataschema: string | null;
  readonly extensions: Readonly<Record<string, string | number | boolean>>;
  readonly data: unknown;
  readonly recordedAt: string;
  readonly tenantId: string;
}

export interface EventsQuery {
  readonly tenantId?: string;
  /** Exact type, or a prefix with a trailing `*` (`order.*`). */
  readonly type?: string;
  readonly subject?: string;
  /** Only events strictly after this global position. */
  readonly after?: number;
  readonly limit?: number;
  readonly cursor?: string | null;
}

export function toIngestedEventView(row: IngestedEventRecord): IngestedEventView {
  return {
    position: row.position,
    eventId: row.eventId,
    id: row.ceId,
    source: row.source,
    type: row.type,
    subject: row.subject,
    time: row.time,
    datacontenttype: row.datacontenttype,
    dataschema: row.dataschema,
    extensions: row.extensions ?? {},
    data: row.data ?? null,
    recordedAt: row.recordedAt,
    tenantId: row.tenantId,
  };
}

/** Ingested events, in global order, from the `events` read model. */
export class EventsReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(query: EventsQuery = {}): Promise<Page<IngestedEventView>> {
    const limit = pageLimit(query.limit);
    if (query.after !== undefined && (!Number.isSafeInteger(query.after) || query.after < 0)) {
      throw invalid('INVALID_POSITION', 'after must be a non-negative integer', { after: query.after });
    }
    const after = Math.max(query.after ?? 0, decodeCursor(query.cursor) ?? 0);
    const rows = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(IngestedEventRecord)
        .createQueryBuilder('ev')
        .where('ev.tenantId = :tenantId', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID })
        .andWhere('ev.position > :after', { after });
      whereActiveVersion(builder, manager, 'ev', EVENTS_PROJECTION);
      if (query.type !== undefined && query.type !== '') {
        if (query.type.endsWith('*')) {
          const prefix = query.type.slice(0, -1);
          // substr, not LIKE: exact and case-sensitive on both databases, no escaping of % and _.
          if (prefix !== '') builder.andWhere('substr(ev.type, 1, :typePrefixLength) = :typePrefix', { typePrefix: prefix, typePrefixLength: prefix.length });
        } else {
          builder.andWhere('ev.type = :type', { type: query.type });
        }
      }
      if (query.subject !== undefined) builder.andWhere('ev.subject = :subject', { subject: query.subject });
      return builder
        .orderBy('ev.position', 'ASC')
        .take(limit + 1)
        .getMany();
    });
    return toPage(rows, limit, (row) => row.position, toIngestedEventView);
  }
}
