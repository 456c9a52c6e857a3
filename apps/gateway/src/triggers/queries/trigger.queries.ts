import { Inject } from '@nestjs/common';
import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import type { StoredTriggerEvaluation, TriggerStateStore } from '@meridian/agents';
import { notFound } from '@meridian/domain';
import { TriggersReadRepository, type Page, type TriggerFiringView, type TriggerView } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../../shared/read-your-writes';

export class ListTriggersQuery extends Query<Page<TriggerView>> {
  constructor(
    readonly tenantId: string,
    readonly page: { limit?: number; cursor?: string | null; agentId?: string; includeDeleted?: boolean; minPosition?: number },
  ) {
    super();
  }
}

/** What the trigger engine keeps about a trigger (see TriggerStateStore); read by `GET /triggers/:id`. */
export const TRIGGER_EVALUATIONS = Symbol('TriggerEvaluations');

export type TriggerEvaluationView = Omit<StoredTriggerEvaluation, 'state' | 'tenantId' | 'triggerId'>;

export class GetTriggerQuery extends Query<TriggerView & { readonly evaluation: TriggerEvaluationView | null }> {
  constructor(
    readonly tenantId: string,
    readonly triggerId: string,
    readonly minPosition?: number,
  ) {
    super();
  }
}

/** Each firing with the events that matched. */
export class ListTriggerFiringsQuery extends Query<Page<TriggerFiringView>> {
  constructor(
    readonly tenantId: string,
    readonly triggerId: string,
    readonly page: { limit?: number; cursor?: string | null; minPosition?: number },
  ) {
    super();
  }
}

const missing = (triggerId: string) => notFound('TRIGGER_NOT_FOUND', `Trigger "${triggerId}" does not exist.`);

@QueryHandler(ListTriggersQuery)
export class ListTriggersHandler implements IQueryHandler<ListTriggersQuery> {
  constructor(
    private readonly triggers: TriggersReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, page }: ListTriggersQuery): Promise<Page<TriggerView>> {
    await this.consistency.require(page.minPosition, ['triggers']);
    return this.triggers.list({ tenantId, limit: page.limit, cursor: page.cursor ?? null, ...(page.agentId ? { agentId: page.agentId } : {}), includeDeleted: page.includeDeleted ?? false });
  }
}

@QueryHandler(GetTriggerQuery)
export class GetTriggerHandler implements IQueryHandler<GetTriggerQuery> {
  constructor(
    private readonly triggers: TriggersReadRepository,
    private readonly consistency: ReadYourWrites,
    @Inject(TRIGGER_EVALUATIONS) private readonly evaluations: TriggerStateStore,
  ) {}

  async execute({ tenantId, triggerId, minPosition }: GetTriggerQuery): Promise<TriggerView & { readonly evaluation: TriggerEvaluationView | null }> {
    await this.consistency.require(minPosition, ['triggers']);
    const trigger = await this.triggers.get(triggerId, tenantId);
    if (!trigger) throw missing(triggerId);
    const stored = await this.evaluations.find(tenantId, triggerId);
    const evaluation = stored === null ? null : { conditionVersion: stored.conditionVersion, stateSince: stored.stateSince, stateReason: stored.stateReason, stats: stored.stats };
    return { ...trigger, evaluation };
  }
}

@QueryHandler(ListTriggerFiringsQuery)
export class ListTriggerFiringsHandler implements IQueryHandler<ListTriggerFiringsQuery> {
  constructor(
    private readonly triggers: TriggersReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, triggerId, page }: ListTriggerFiringsQuery): Promise<Page<TriggerFiringView>> {
    await this.consistency.require(page.minPosition, ['triggers']);
    if (!(await this.triggers.get(triggerId, tenantId))) throw missing(triggerId);
    return this.triggers.firings(triggerId, { tenantId, limit: page.limit, cursor: page.cursor ?? null });
  }
}

export const TRIGGER_QUERY_HANDLERS = [ListTriggersHandler, GetTriggerHandler, ListTriggerFiringsHandler];
