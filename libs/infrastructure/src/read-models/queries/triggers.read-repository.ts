import { DEFAULT_TENANT_ID } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { withReader } from '../read-model-transactions';
import { TriggerFiringRecord, TriggerRecord } from '../triggers/trigger-read-model.entities';
import { TRIGGERS_PROJECTION } from '../triggers/triggers.projection';
import { whereActiveVersion } from './active-version';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination';

export interface TriggerView {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly name: string;
  /** The TriggerDefinition in force (name, condition, action, cooldown). */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly definitionVersion: number;
  readonly enabled: boolean;
  readonly deleted: boolean;
  readonly firingCount: number;
  readonly lastFiredAt: string | null;
  /** Stream revision (ETag). */
  readonly revision: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastPosition: number;
}

export interface TriggerFiringView {
  readonly firingId: string;
  readonly triggerId: string;
  readonly agentId: string;
  readonly occurrenceKey: string;
  /** The events that matched: `{ eventId, position, type, subject, time }`. */
  readonly matchedEvents: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly action: Readonly<Record<string, unknown>>;
  readonly definitionVersion: number;
  readonly firedAt: string;
  /** The window's subject; null for global windows and schedules. */
  readonly subject: string | null;
  /** Decided by a deadline the engine reached late (it was down or behind when the window closed). */
  readonly late: boolean;
  readonly position: number;
}

export interface TriggerListQuery extends PageRequest {
  readonly tenantId?: string;
  /** Only triggers owned by this agent. */
  readonly agentId?: string;
  /** Deleted triggers are left out unless asked for. */
  readonly includeDeleted?: boolean;
}

export function toTriggerView(row: TriggerRecord): TriggerView {
  return {
    id: row.triggerId,
    tenantId: row.tenantId,
    agentId: row.agentId,
    name: row.name,
    definition: row.definition,
    definitionVersion: row.definitionVersion,
    enabled: row.enabled,
    deleted: row.deleted,
    firingCount: row.firingCount,
    lastFiredAt: row.lastFiredAt,
    revision: row.revision,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastPosition: row.lastPosition,
  };
}

export function toTriggerFiringView(row: TriggerFiringRecord): TriggerFiringView {
  return {
    firingId: row.firingId,
    triggerId: row.triggerId,
    agentId: row.agentId,
    occurrenceKey: row.occurrenceKey,
    matchedEvents: row.matchedEvents,
    action: row.action,
    definitionVersion: row.definitionVersion,
    firedAt: row.firedAt,
    subject: row.subject,
    late: row.late,
    position: row.position,
  };
}

/** Triggers and their firings, from the `triggers` read model. */
export class TriggersReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** In creation order. */
  async list(query: TriggerListQuery = {}): Promise<Page<TriggerView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const rows = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(TriggerRecord)
        .createQueryBuilder('tr')
        .where('tr.tenantId = :tenantId AND tr.createdPosition > :after', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, after });
      if (!query.includeDeleted) builder.andWhere('tr.deleted = :deleted', { deleted: false });
      if (query.agentId !== undefined) builder.andWhere('tr.agentId = :agentId', { agentId: query.agentId });
      return whereActiveVersion(builder, manager, 'tr', TRIGGERS_PROJECTION)
        .orderBy('tr.createdPosition', 'ASC')
        .take(limit + 1)
        .getMany();
    });
    return toPage(rows, limit, (row) => row.createdPosition, toTriggerView);
  }

  /** Deleted ones included (see `deleted`). */
  async get(triggerId: string, tenantId: string = DEFAULT_TENANT_ID): Promise<TriggerView | null> {
    const row = await withReader(this.dataSource, (manager) =>
      whereActiveVersion(
        manager.getRepository(TriggerRecord).createQueryBuilder('tr').where('tr.tenantId = :tenantId AND tr.triggerId = :triggerId', { tenantId, triggerId }),
        manager,
        'tr',
        TRIGGERS_PROJECTION,
      ).getOne(),
    );
    return row ? toTriggerView(row) : null;
  }

  /** Firings of a trigger, oldest first, each with the events that matched. */
  async firings(triggerId: string, query: PageRequest & { readonly tenantId?: string } = {}): Promise<Page<TriggerFiringView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const rows = await withReader(this.dataSource, (manager) =>
      whereActiveVersion(
        manager
          .getRepository(TriggerFiringRecord)
          .createQueryBuilder('tf')
          .where('tf.tenantId = :tenantId AND tf.triggerId = :triggerId AND tf.position > :after', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, triggerId, after }),
        manager,
        'tf',
        TRIGGERS_PROJECTION,
      )
        .orderBy('tf.position', 'ASC')
        .take(limit + 1)
        .getMany(),
    );
    return toPage(rows, limit, (row) => row.position, toTriggerFiringView);
  }
}
