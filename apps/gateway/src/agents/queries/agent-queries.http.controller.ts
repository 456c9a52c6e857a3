import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { agentDecider, AGENT_STATUSES, EVENT_STORE, notFound, streamName, type EventStore, type RecordedEvent } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { AgentsReadRepository, type AgentDecisionView, type AgentView as AgentReadView, type Page } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { pageQueryFields, PageQuerySchema } from '../../shared/list-query.schema';
import { ReadYourWrites } from '../../shared/read-your-writes';
import { agentViewFromReadModel, agentViewFromState, type AgentView } from '../agent.view';

const AgentListQuerySchema = Type.Object(
  { ...pageQueryFields, status: Type.Optional(Type.Union(AGENT_STATUSES.map((s) => Type.Literal(s)), { description: 'Default: all but retired' })) },
  { additionalProperties: false },
);
const AgentQuerySchema = Type.Object(
  {
    minPosition: pageQueryFields.minPosition,
    asOf: Type.Optional(Type.Integer({ minimum: 0, description: 'Time travel: the agent as it was at this global position (read from the event store)' })),
  },
  { additionalProperties: false },
);
const HistoryQuerySchema = Type.Object(
  { fromRevision: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) },
  { additionalProperties: false },
);

@ApiTags('agents')
@Controller('api/v1/agents')
export class AgentQueriesHttpController {
  constructor(
    private readonly agents: AgentsReadRepository,
    private readonly consistency: ReadYourWrites,
    private readonly executor: DeciderCommandExecutor,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get()
  @ApiQuery({ name: 'status', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  async list(@Query(new TypeBoxQueryPipe(AgentListQuerySchema)) query: Static<typeof AgentListQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<AgentView>> {
    await this.consistency.require(query.minPosition, ['agents']);
    const page = await this.agents.list({ tenantId: ctx.tenantId, limit: query.limit, cursor: query.cursor ?? null, ...(query.status ? { status: [query.status] } : {}) });
    return { items: page.items.map(agentViewFromReadModel), nextCursor: page.nextCursor };
  }

  /** The agent, with `ETag: "<revision>"`; `?asOf=<position>` gives its state at that point. */
  @Get(':id')
  @ApiQuery({ name: 'asOf', required: false })
  async get(
    @Param('id') agentId: string,
    @Query(new TypeBoxQueryPipe(AgentQuerySchema)) query: Static<typeof AgentQuerySchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AgentView> {
    if (query.asOf !== undefined) {
      const { state, revision } = await this.executor.load(agentDecider, streamName('agent', agentId, ctx.tenantId), query.asOf);
      const view = agentViewFromState(state, revision);
      if (!view) throw notFound('AGENT_NOT_FOUND', `Agent "${agentId}" did not exist at position ${query.asOf}.`);
      return view;
    }
    await this.consistency.require(query.minPosition, ['agents']);
    const agent: AgentReadView | null = await this.agents.get(agentId, ctx.tenantId);
    if (!agent) throw notFound('AGENT_NOT_FOUND', `Agent "${agentId}" does not exist.`);
    response.setHeader('ETag', etag(agent.revision));
    return agentViewFromReadModel(agent);
  }

  /** The decision ledger: input, engine output, actions, tokens, cost, latency, definition version. */
  @Get(':id/decisions')
  async decisions(@Param('id') agentId: string, @Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<AgentDecisionView>> {
    await this.consistency.require(query.minPosition, ['agents']);
    if (!(await this.agents.get(agentId, ctx.tenantId))) throw notFound('AGENT_NOT_FOUND', `Agent "${agentId}" does not exist.`);
    return this.agents.decisions(agentId, { tenantId: ctx.tenantId, limit: query.limit, cursor: query.cursor ?? null });
  }

  /** The agent's raw events, from the event store (the system of record), in stream order. */
  @Get(':id/history')
  async history(
    @Param('id') agentId: string,
    @Query(new TypeBoxQueryPipe(HistoryQuerySchema)) query: Static<typeof HistoryQuerySchema>,
    @Ctx() ctx: RequestContext,
  ): Promise<{ items: RecordedEvent[]; nextFromRevision: number | null }> {
    const limit = query.limit ?? 100;
    const events = await this.store.readStream(streamName('agent', agentId, ctx.tenantId), { fromRevision: query.fromRevision ?? 0, maxCount: limit + 1 });
    if (events.length === 0 && (query.fromRevision ?? 0) === 0) throw notFound('AGENT_NOT_FOUND', `Agent "${agentId}" does not exist.`);
    const items = events.slice(0, limit);
    return { items, nextFromRevision: events.length > limit ? events[limit].revision : null };
  }
}
