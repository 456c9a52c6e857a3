import type { Actor } from '../shared/event';
import type { ApprovalDecision, MessageAuthor } from './conversation.commands';

/** Stream `<tenant>/conversation-<conversationId>`. */
export const CONVERSATION_STREAM_CATEGORY = 'conversation' as const;

export type ConversationStarted = {
  readonly type: 'conversation.started';
  readonly data: { readonly conversationId: string; readonly agentIds: readonly string[]; readonly title?: string; readonly startedBy: Actor };
};

export type ConversationMessagePosted = {
  readonly type: 'conversation.message-posted';
  readonly data: { readonly conversationId: string; readonly messageId: string; readonly author: MessageAuthor; readonly content: string };
};

export type ConversationReplyRecorded = {
  readonly type: 'conversation.reply-recorded';
  readonly data: {
    readonly conversationId: string;
    readonly messageId: string;
    readonly agentId: string;
    readonly content: string;
    readonly decisionId?: string;
    readonly inReplyTo?: string;
  };
};

/** What every approval event repeats, so a reaction can act on the event alone. */
export interface ApprovalSubject {
  readonly conversationId: string;
  readonly approvalId: string;
  readonly agentId: string;
  readonly decisionId: string;
  readonly action: unknown;
}

export type ConversationApprovalRequested = {
  readonly type: 'conversation.approval-requested';
  readonly data: ApprovalSubject & { readonly reason?: string; readonly requestedAt: string; readonly expiresAt?: string };
};

export type ConversationApprovalResolved = {
  readonly type: 'conversation.approval-resolved';
  readonly data: ApprovalSubject & {
    readonly decision: ApprovalDecision;
    readonly comment?: string;
    readonly resolvedBy: Actor;
    readonly resolvedAt: string;
  };
};

/** Nobody decided in time: the timeout policy's decision applies. */
export type ConversationApprovalExpired = {
  readonly type: 'conversation.approval-expired';
  readonly data: ApprovalSubject & { readonly decision: ApprovalDecision; readonly expiredAt: string };
};

/** Closing cancels the approvals still pending: their actions never run. */
export type ConversationClosed = {
  readonly type: 'conversation.closed';
  readonly data: {
    readonly conversationId: string;
    readonly reason?: string;
    readonly closedBy: Actor;
    readonly cancelledApprovalIds: readonly string[];
  };
};

export type ConversationEvent =
  | ConversationStarted
  | ConversationMessagePosted
  | ConversationReplyRecorded
  | ConversationApprovalRequested
  | ConversationApprovalResolved
  | ConversationApprovalExpired
  | ConversationClosed;

export type ConversationEventType = ConversationEvent['type'];

export const CONVERSATION_EVENT_TYPES = [
  'conversation.started',
  'conversation.message-posted',
  'conversation.reply-recorded',
  'conversation.approval-requested',
  'conversation.approval-resolved',
  'conversation.approval-expired',
  'conversation.closed',
] as const satisfies readonly ConversationEventType[];
