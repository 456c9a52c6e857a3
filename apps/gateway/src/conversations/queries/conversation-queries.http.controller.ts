import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { notFound } from '@meridian/domain';
import { ConversationsReadRepository, type ConversationSummaryView, type ConversationView, type Page } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { ItemQuerySchema, PageQuerySchema } from '../../shared/list-query.schema';
import { ReadYourWrites } from '../../shared/read-your-writes';

@ApiTags('conversations')
@Controller('api/v1/conversations')
export class ConversationQueriesHttpController {
  constructor(
    private readonly conversations: ConversationsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Get()
  async list(@Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<ConversationSummaryView>> {
    await this.consistency.require(query.minPosition, ['conversations']);
    return this.conversations.list({ tenantId: ctx.tenantId, limit: query.limit, cursor: query.cursor ?? null });
  }

  /** The conversation with its messages in order and its pending approvals. */
  @Get(':id')
  async get(
    @Param('id') conversationId: string,
    @Query(new TypeBoxQueryPipe(ItemQuerySchema)) query: Static<typeof ItemQuerySchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ConversationView> {
    await this.consistency.require(query.minPosition, ['conversations']);
    const conversation = await this.conversations.get(conversationId, ctx.tenantId);
    if (!conversation) throw notFound('CONVERSATION_NOT_FOUND', `Conversation "${conversationId}" does not exist.`);
    response.setHeader('ETag', etag(conversation.revision));
    return conversation;
  }
}
