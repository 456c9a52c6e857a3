import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { notFound } from '@meridian/domain';
import { CHAINS_PROJECTION, ChainsReadRepository, type ChainView } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../shared/read-your-writes';

/** A chain's causation graph, budgets used and halt, from the `chains` read model. */
export class GetChainQuery extends Query<ChainView> {
  constructor(
    readonly tenantId: string,
    readonly correlationId: string,
    readonly minPosition?: number,
  ) {
    super();
  }
}

@QueryHandler(GetChainQuery)
export class GetChainHandler implements IQueryHandler<GetChainQuery> {
  constructor(
    private readonly chains: ChainsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, correlationId, minPosition }: GetChainQuery): Promise<ChainView> {
    await this.consistency.require(minPosition, [CHAINS_PROJECTION]);
    const chain = await this.chains.get(correlationId, tenantId);
    if (!chain) throw notFound('CHAIN_NOT_FOUND', `No agent took part in a chain with correlation id "${correlationId}".`);
    return chain;
  }
}
