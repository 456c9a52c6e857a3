import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  AGENTS_PROJECTION,
  AgentsReadRepository,
  type AgentDecisionView,
  type AgentStatusView,
  type AgentView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { ReadYourWrites } from '../../shared/read-your-writes';
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
    private readonly agents: AgentsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Query('agents')
  async list(@Args() args: AgentsArgs, @GqlCtx() ctx: RequestContext): Promise<Page<AgentView>> {
    await this.consistency.require(given(args.minPosition), [AGENTS_PROJECTION]);
    const status = given(args.status);
    return this.agents.list({ tenantId: ctx.tenantId, ...(status !== undefined ? { status } : {}), ...pageOf(args) });
  }

  @Query('agent')
  async get(@Args() args: AgentArgs, @GqlCtx() ctx: RequestContext): Promise<AgentView | null> {
    await this.consistency.require(given(args.minPosition), [AGENTS_PROJECTION]);
    return this.agents.get(args.id, ctx.tenantId);
  }

  @ResolveField('decisions')
  decisions(@Parent() agent: AgentView, @Args() args: PageArgs): Promise<Page<AgentDecisionView>> {
    return this.agents.decisions(agent.id, { tenantId: agent.tenantId, ...pageOf(args) });
  }
}
