import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import { QueryBus } from '@nestjs/cqrs';
import { Ctx, type RequestContext } from '../http/request-context.decorator';
import { openApi } from '../http/openapi-schema';
import { TypeBoxQueryPipe } from '../http/typebox.pipe';
import { ItemQuerySchema } from '../shared/list-query.schema';
import { chainHttpView, ChainViewSchema, type ChainHttpView } from './chain.view';
import { GetChainQuery } from './get-chain.query';

@ApiTags('chains')
@Controller('api/v1/chains')
export class GetChainHttpController {
  constructor(private readonly queries: QueryBus) {}

  /** The causation graph of a chain: its events, decisions, messages and actions, budgets used, and whether and why it was halted. */
  @Get(':correlationId')
  @ApiQuery({ name: 'minPosition', required: false })
  @ApiResponse({ status: 200, schema: openApi(ChainViewSchema) })
  async get(@Param('correlationId') correlationId: string, @Query(new TypeBoxQueryPipe(ItemQuerySchema)) query: Static<typeof ItemQuerySchema>, @Ctx() ctx: RequestContext): Promise<ChainHttpView> {
    return chainHttpView(await this.queries.execute(new GetChainQuery(ctx.tenantId, correlationId, query.minPosition)));
  }
}
