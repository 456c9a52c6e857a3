import { QueryBus } from '@nestjs/cqrs';
import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  ConversationsReadRepository,
  type ConversationApprovalView,
  type ConversationMessageView,
  type ConversationSummaryView,
  type ConversationView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { GetConversationQuery, ListConversationsQuery } from '../../conversations/queries/conversation.queries';
import { notFoundAsNull } from './not-found-as-null';
import { GqlCtx } from '../graphql-request-context';
import { given, pageOf, type ConsistencyArgs, type PageArgs } from './graphql-args';

interface ConversationArgs extends ConsistencyArgs {
  readonly id: string;
}

/** A list item (summary) or a single conversation (which already carries its pending approvals). */
type ConversationParent = ConversationSummaryView & Partial<Pick<ConversationView, 'pendingApprovals'>>;

/** `conversations` and `conversation(id)` from the conversations read model, messages paged. */
@Resolver('Conversation')
export class ConversationsResolver {
  constructor(
    private readonly queries: QueryBus,
    private readonly conversations: ConversationsReadRepository,
  ) {}

  @Query('conversations')
  list(@Args() args: PageArgs & ConsistencyArgs, @GqlCtx() ctx: RequestContext): Promise<Page<ConversationSummaryView>> {
    const minPosition = given(args.minPosition);
    return this.queries.execute(new ListConversationsQuery(ctx.tenantId, { ...pageOf(args), ...(minPosition !== undefined ? { minPosition } : {}) }));
  }

  @Query('conversation')
  get(@Args() args: ConversationArgs, @GqlCtx() ctx: RequestContext): Promise<ConversationView | null> {
    return notFoundAsNull(this.queries.execute(new GetConversationQuery(ctx.tenantId, args.id, given(args.minPosition))));
  }

  @ResolveField('messages')
  messages(@Parent() conversation: ConversationParent, @Args() args: PageArgs): Promise<Page<ConversationMessageView>> {
    return this.conversations.messages(conversation.id, { tenantId: conversation.tenantId, ...pageOf(args) });
  }

  @ResolveField('pendingApprovals')
  async pendingApprovals(@Parent() conversation: ConversationParent): Promise<readonly ConversationApprovalView[]> {
    if (conversation.pendingApprovals) return conversation.pendingApprovals;
    return (await this.conversations.approvals(conversation.id, conversation.tenantId)).filter((approval) => approval.status === 'pending');
  }

  @ResolveField('approvals')
  approvals(@Parent() conversation: ConversationParent): Promise<ConversationApprovalView[]> {
    return this.conversations.approvals(conversation.id, conversation.tenantId);
  }
}
