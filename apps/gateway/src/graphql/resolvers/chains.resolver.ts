import { QueryBus } from '@nestjs/cqrs';
import { Args, Query, Resolver } from '@nestjs/graphql';
import type { ChainView } from '@meridian/infrastructure/read-models';
import { GetChainQuery } from '../../chains/get-chain.query';
import type { RequestContext } from '../../http/request-context.decorator';
import { GqlCtx } from '../graphql-request-context';
import { given, type ConsistencyArgs } from './graphql-args';
import { notFoundAsNull } from './not-found-as-null';

interface ChainArgs extends ConsistencyArgs {
  readonly correlationId: string;
}

/** `chain(correlationId)` from the chains read model. */
@Resolver('Chain')
export class ChainsResolver {
  constructor(private readonly queries: QueryBus) {}

  @Query('chain')
  get(@Args() args: ChainArgs, @GqlCtx() ctx: RequestContext): Promise<ChainView | null> {
    return notFoundAsNull(this.queries.execute(new GetChainQuery(ctx.tenantId, args.correlationId, given(args.minPosition))));
  }
}
