import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { TRIGGERS_PROJECTION, TriggersReadRepository, type Page, type TriggerFiringView, type TriggerView } from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { ReadYourWrites } from '../../shared/read-your-writes';
import { GqlCtx } from '../graphql-request-context';
import { given, pageOf, type ConsistencyArgs, type PageArgs } from './graphql-args';

interface TriggersArgs extends PageArgs, ConsistencyArgs {
  readonly agentId?: string | null;
  readonly includeDeleted?: boolean | null;
}

interface TriggerArgs extends ConsistencyArgs {
  readonly id: string;
}

/** `triggers` and `trigger(id)` from the triggers read model; `Trigger.firings` with the matched events. */
@Resolver('Trigger')
export class TriggersResolver {
  constructor(
    private readonly triggers: TriggersReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Query('triggers')
  async list(@Args() args: TriggersArgs, @GqlCtx() ctx: RequestContext): Promise<Page<TriggerView>> {
    await this.consistency.require(given(args.minPosition), [TRIGGERS_PROJECTION]);
    const agentId = given(args.agentId);
    return this.triggers.list({
      tenantId: ctx.tenantId,
      ...(agentId !== undefined ? { agentId } : {}),
      includeDeleted: args.includeDeleted ?? false,
      ...pageOf(args),
    });
  }

  @Query('trigger')
  async get(@Args() args: TriggerArgs, @GqlCtx() ctx: RequestContext): Promise<TriggerView | null> {
    await this.consistency.require(given(args.minPosition), [TRIGGERS_PROJECTION]);
    return this.triggers.get(args.id, ctx.tenantId);
  }

  @ResolveField('firings')
  firings(@Parent() trigger: TriggerView, @Args() args: PageArgs): Promise<Page<TriggerFiringView>> {
    return this.triggers.firings(trigger.id, { tenantId: trigger.tenantId, ...pageOf(args) });
  }
}
