import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  CONVERSATIONS_PROJECTION,
  ConversationsReadRepository,
  type ConversationApprovalView,
  type ConversationMessageView,
  type ConversationSummaryView,
  type ConversationView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { ReadYourWrites } from '../../shared/read-your-writes';
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
    private readonly conversations: ConversationsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Query('conversations')
  async list(@Args() args: PageArgs & ConsistencyArgs, @GqlCtx() ctx: RequestContext): Promise<Page<ConversationSummaryView>> {
    await this.consistency.require(given(args.minPosition), [CONVERSATIONS_PROJECTION]);
    return this.conversations.list({ tenantId: ctx.tenantId, ...pageOf(args) });
  }

  @Query('conversation')
  async get(@Args() args: ConversationArgs, @GqlCtx() ctx: RequestContext): Promise<ConversationView | null> {
    await this.consistency.require(given(args.minPosition), [CONVERSATIONS_PROJECTION]);
    return this.conversations.get(args.id, ctx.tenantId);
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
