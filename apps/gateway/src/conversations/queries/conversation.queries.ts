import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { notFound } from '@meridian/domain';
import { ConversationsReadRepository, type ConversationSummaryView, type ConversationView, type Page } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../../shared/read-your-writes';

export class ListConversationsQuery extends Query<Page<ConversationSummaryView>> {
  constructor(
    readonly tenantId: string,
    readonly page: { limit?: number; cursor?: string | null; minPosition?: number },
  ) {
    super();
  }
}

/** The conversation with its messages in order and its pending approvals. */
export class GetConversationQuery extends Query<ConversationView> {
  constructor(
    readonly tenantId: string,
    readonly conversationId: string,
    readonly minPosition?: number,
  ) {
    super();
  }
}

@QueryHandler(ListConversationsQuery)
export class ListConversationsHandler implements IQueryHandler<ListConversationsQuery> {
  constructor(
    private readonly conversations: ConversationsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, page }: ListConversationsQuery): Promise<Page<ConversationSummaryView>> {
    await this.consistency.require(page.minPosition, ['conversations']);
    return this.conversations.list({ tenantId, limit: page.limit, cursor: page.cursor ?? null });
  }
}

@QueryHandler(GetConversationQuery)
export class GetConversationHandler implements IQueryHandler<GetConversationQuery> {
  constructor(
    private readonly conversations: ConversationsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, conversationId, minPosition }: GetConversationQuery): Promise<ConversationView> {
    await this.consistency.require(minPosition, ['conversations']);
    const conversation = await this.conversations.get(conversationId, tenantId);
    if (!conversation) throw notFound('CONVERSATION_NOT_FOUND', `Conversation "${conversationId}" does not exist.`);
    return conversation;
  }
}

export const CONVERSATION_QUERY_HANDLERS = [ListConversationsHandler, GetConversationHandler];
