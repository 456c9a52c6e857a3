import { QueryBus } from '@nestjs/cqrs';
import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  AgentsReadRepository,
  type AgentDecisionView,
  type AgentStatusView,
  type AgentView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { GetAgentQuery, ListAgentsQuery } from '../../agents/queries/agent.queries';
import { notFoundAsNull } from './not-found-as-null';
import { GqlCtx } from '../graphql-request-context';
import { given, pageOf, type ConsistencyArgs, type PageArgs } from './graphql-args';

interface AgentsArgs extends PageArgs, ConsistencyArgs {
  readonly status?: AgentStatusView[] | null;
}

interface AgentArgs extends ConsistencyArgs {
  readonly id: string;
}

/** `agents` and `agent(id)` from the agents read model; `Agent.decisions` is the decision ledger. */
@Resolver('Agent')
export class AgentsResolver {
  constructor(
    private readonly queries: QueryBus,
    private readonly agents: AgentsReadRepository,
  ) {}

  @Query('agents')
  list(@Args() args: AgentsArgs, @GqlCtx() ctx: RequestContext): Promise<Page<AgentView>> {
    const status = given(args.status);
    const minPosition = given(args.minPosition);
    return this.queries.execute(
      new ListAgentsQuery(ctx.tenantId, { ...pageOf(args), ...(status !== undefined ? { status } : {}), ...(minPosition !== undefined ? { minPosition } : {}) }),
    );
  }

  @Query('agent')
  get(@Args() args: AgentArgs, @GqlCtx() ctx: RequestContext): Promise<AgentView | null> {
    return notFoundAsNull(this.queries.execute(new GetAgentQuery(ctx.tenantId, args.id, given(args.minPosition))));
  }

  @ResolveField('decisions')
  decisions(@Parent() agent: AgentView, @Args() args: PageArgs): Promise<Page<AgentDecisionView>> {
    return this.agents.decisions(agent.id, { tenantId: agent.tenantId, ...pageOf(args) });
  }
}
