import { QueryBus } from '@nestjs/cqrs';
import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { TriggersReadRepository, type Page, type TriggerFiringView, type TriggerView } from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { GetTriggerQuery, ListTriggersQuery, type TriggerEvaluationView } from '../../triggers/queries/trigger.queries';
import { notFoundAsNull } from './not-found-as-null';
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
    private readonly queries: QueryBus,
    private readonly triggers: TriggersReadRepository,
  ) {}

  @Query('triggers')
  list(@Args() args: TriggersArgs, @GqlCtx() ctx: RequestContext): Promise<Page<TriggerView>> {
    const agentId = given(args.agentId);
    const minPosition = given(args.minPosition);
    return this.queries.execute(
      new ListTriggersQuery(ctx.tenantId, {
        ...pageOf(args),
        ...(agentId !== undefined ? { agentId } : {}),
        includeDeleted: args.includeDeleted ?? false,
        ...(minPosition !== undefined ? { minPosition } : {}),
      }),
    );
  }

  @Query('trigger')
  get(@Args() args: TriggerArgs, @GqlCtx() ctx: RequestContext): Promise<TriggerView | null> {
    return notFoundAsNull(this.queries.execute(new GetTriggerQuery(ctx.tenantId, args.id, given(args.minPosition))));
  }

  @ResolveField('evaluation')
  async evaluation(@Parent() trigger: TriggerView & { readonly evaluation?: TriggerEvaluationView | null }): Promise<TriggerEvaluationView | null> {
    if (trigger.evaluation !== undefined) return trigger.evaluation;
    return (await this.queries.execute(new GetTriggerQuery(trigger.tenantId, trigger.id))).evaluation;
  }

  @ResolveField('firings')
  firings(@Parent() trigger: TriggerView, @Args() args: PageArgs): Promise<Page<TriggerFiringView>> {
    return this.triggers.firings(trigger.id, { tenantId: trigger.tenantId, ...pageOf(args) });
  }
}
