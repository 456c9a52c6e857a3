import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { AGENT_STATUSES, type RecordedEvent } from '@meridian/domain';
import type { AgentDecisionView, Page } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { pageQueryFields, PageQuerySchema } from '../../shared/list-query.schema';
import { agentViewFromReadModel, type AgentView } from '../agent.view';
import { GetAgentAsOfQuery, GetAgentHistoryQuery, GetAgentQuery, ListAgentDecisionsQuery, ListAgentsQuery } from './agent.queries';

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

/** Agent reads go through the QueryBus to the read models (history and time travel: the event store). */
@ApiTags('agents')
@Controller('api/v1/agents')
export class AgentQueriesHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiQuery({ name: 'status', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  async list(@Query(new TypeBoxQueryPipe(AgentListQuerySchema)) query: Static<typeof AgentListQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<AgentView>> {
    const { status, ...rest } = query;
    const page = await this.queries.execute(new ListAgentsQuery(ctx.tenantId, { ...rest, ...(status ? { status: [status] } : {}) }));
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
    if (query.asOf !== undefined) return this.queries.execute(new GetAgentAsOfQuery(ctx.tenantId, agentId, query.asOf));
    const agent = await this.queries.execute(new GetAgentQuery(ctx.tenantId, agentId, query.minPosition));
    response.setHeader('ETag', etag(agent.revision));
    return agentViewFromReadModel(agent);
  }

  /** The decision ledger: input, engine output, actions, tokens, cost, latency, definition version. */
  @Get(':id/decisions')
  decisions(@Param('id') agentId: string, @Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<AgentDecisionView>> {
    return this.queries.execute(new ListAgentDecisionsQuery(ctx.tenantId, agentId, query));
  }

  /** The agent's raw events, from the event store, in stream order. */
  @Get(':id/history')
  history(
    @Param('id') agentId: string,
    @Query(new TypeBoxQueryPipe(HistoryQuerySchema)) query: Static<typeof HistoryQuerySchema>,
    @Ctx() ctx: RequestContext,
  ): Promise<{ items: RecordedEvent[]; nextFromRevision: number | null }> {
    return this.queries.execute(new GetAgentHistoryQuery(ctx.tenantId, agentId, query.fromRevision ?? 0, query.limit ?? 100));
  }
}
