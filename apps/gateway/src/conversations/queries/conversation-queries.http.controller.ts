import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import type { Response } from 'express';
import type { ConversationSummaryView, ConversationView, Page } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { ItemQuerySchema, PageQuerySchema } from '../../shared/list-query.schema';
import { GetConversationQuery, ListConversationsQuery } from './conversation.queries';

@ApiTags('conversations')
@Controller('api/v1/conversations')
export class ConversationQueriesHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  list(@Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<ConversationSummaryView>> {
    return this.queries.execute(new ListConversationsQuery(ctx.tenantId, query));
  }

  /** The conversation with its messages in order and its pending approvals. */
  @Get(':id')
  async get(
    @Param('id') conversationId: string,
    @Query(new TypeBoxQueryPipe(ItemQuerySchema)) query: Static<typeof ItemQuerySchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ConversationView> {
    const conversation = await this.queries.execute(new GetConversationQuery(ctx.tenantId, conversationId, query.minPosition));
    response.setHeader('ETag', etag(conversation.revision));
    return conversation;
  }
}
