import { Inject } from '@nestjs/common';
import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { agentDecider, EVENT_STORE, notFound, streamName, type AgentStatus, type EventStore, type RecordedEvent } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { AgentsReadRepository, type AgentDecisionView, type AgentView as AgentReadView, type Page } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../../shared/read-your-writes';
import { agentViewFromState, type AgentView } from '../agent.view';

/** Agents from the `agents` read model, after waiting for `minPosition` when given. */
export class ListAgentsQuery extends Query<Page<AgentReadView>> {
  constructor(
    readonly tenantId: string,
    readonly page: { limit?: number; cursor?: string | null; status?: readonly AgentStatus[]; minPosition?: number },
  ) {
    super();
  }
}

export class GetAgentQuery extends Query<AgentReadView> {
  constructor(
    readonly tenantId: string,
    readonly agentId: string,
    readonly minPosition?: number,
  ) {
    super();
  }
}

/** Time travel: the agent folded from its own stream up to a global position (event store). */
export class GetAgentAsOfQuery extends Query<AgentView> {
  constructor(
    readonly tenantId: string,
    readonly agentId: string,
    readonly position: number,
  ) {
    super();
  }
}

export class ListAgentDecisionsQuery extends Query<Page<AgentDecisionView>> {
  constructor(
    readonly tenantId: string,
    readonly agentId: string,
    readonly page: { limit?: number; cursor?: string | null; minPosition?: number },
  ) {
    super();
  }
}

/** The agent's raw events, from the event store (the system of record). */
export class GetAgentHistoryQuery extends Query<{ items: RecordedEvent[]; nextFromRevision: number | null }> {
  constructor(
    readonly tenantId: string,
    readonly agentId: string,
    readonly fromRevision: number,
    readonly limit: number,
  ) {
    super();
  }
}

const missing = (agentId: string) => notFound('AGENT_NOT_FOUND', `Agent "${agentId}" does not exist.`);

@QueryHandler(ListAgentsQuery)
export class ListAgentsHandler implements IQueryHandler<ListAgentsQuery> {
  constructor(
    private readonly agents: AgentsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, page }: ListAgentsQuery): Promise<Page<AgentReadView>> {
    await this.consistency.require(page.minPosition, ['agents']);
    return this.agents.list({ tenantId, limit: page.limit, cursor: page.cursor ?? null, ...(page.status ? { status: page.status } : {}) });
  }
}

@QueryHandler(GetAgentQuery)
export class GetAgentHandler implements IQueryHandler<GetAgentQuery> {
  constructor(
    private readonly agents: AgentsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, agentId, minPosition }: GetAgentQuery): Promise<AgentReadView> {
    await this.consistency.require(minPosition, ['agents']);
    const agent = await this.agents.get(agentId, tenantId);
    if (!agent) throw missing(agentId);
    return agent;
  }
}

@QueryHandler(GetAgentAsOfQuery)
export class GetAgentAsOfHandler implements IQueryHandler<GetAgentAsOfQuery> {
  constructor(private readonly executor: DeciderCommandExecutor) {}

  async execute({ tenantId, agentId, position }: GetAgentAsOfQuery): Promise<AgentView> {
    const { state, revision } = await this.executor.load(agentDecider, streamName('agent', agentId, tenantId), position);
    const view = agentViewFromState(state, revision);
    if (!view) throw notFound('AGENT_NOT_FOUND', `Agent "${agentId}" did not exist at position ${position}.`);
    return view;
  }
}

@QueryHandler(ListAgentDecisionsQuery)
export class ListAgentDecisionsHandler implements IQueryHandler<ListAgentDecisionsQuery> {
  constructor(
    private readonly agents: AgentsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, agentId, page }: ListAgentDecisionsQuery): Promise<Page<AgentDecisionView>> {
    await this.consistency.require(page.minPosition, ['agents']);
    if (!(await this.agents.get(agentId, tenantId))) throw missing(agentId);
    return this.agents.decisions(agentId, { tenantId, limit: page.limit, cursor: page.cursor ?? null });
  }
}

@QueryHandler(GetAgentHistoryQuery)
export class GetAgentHistoryHandler implements IQueryHandler<GetAgentHistoryQuery> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ tenantId, agentId, fromRevision, limit }: GetAgentHistoryQuery): Promise<{ items: RecordedEvent[]; nextFromRevision: number | null }> {
    const events = await this.store.readStream(streamName('agent', agentId, tenantId), { fromRevision, maxCount: limit + 1 });
    if (events.length === 0 && fromRevision === 0) throw missing(agentId);
    return { items: events.slice(0, limit), nextFromRevision: events.length > limit ? events[limit].revision : null };
  }
}

export const AGENT_QUERY_HANDLERS = [ListAgentsHandler, GetAgentHandler, GetAgentAsOfHandler, ListAgentDecisionsHandler, GetAgentHistoryHandler];
