import type { Actor } from '../shared/event';

/** Commands of the conversation aggregate (stream `<tenant>/conversation-<conversationId>`). */

export type StartConversation = {
  readonly type: 'StartConversation';
  readonly data: {
    readonly conversationId: string;
    /** At least one, no repeats: the agents taking part. */
    readonly agentIds: readonly string[];
    readonly title?: string;
    /** Defaults to `context.actor`. */
    readonly startedBy?: Actor;
  };
};

export const MESSAGE_AUTHOR_KINDS = ['user', 'agent'] as const;
export interface MessageAuthor {
  readonly kind: (typeof MESSAGE_AUTHOR_KINDS)[number];
  readonly id: string;
}

/** A message from a person, or from a participating agent. `messageId` defaults to `context.newId()`. */
export type PostMessage = {
  readonly type: 'PostMessage';
  readonly data: { readonly conversationId: string; readonly messageId?: string; readonly content: string; readonly author: MessageAuthor };
};

/** A participating agent's reply, recorded once it is complete (tokens stream separately). */
export type RecordReply = {
  readonly type: 'RecordReply';
  readonly data: {
    readonly conversationId: string;
    readonly messageId: string;
    readonly agentId: string;
    readonly content: string;
    /** The decision that produced the reply. */
    readonly decisionId?: string;
    /** The message replied to. */
    readonly inReplyTo?: string;
  };
};

/** An agent proposes an action that waits for a person's decision. `approvalId` defaults to `context.newId()`. */
export type RequestApproval = {
  readonly type: 'RequestApproval';
  readonly data: {
    readonly conversationId: string;
    readonly approvalId?: string;
    readonly agentId: string;
    readonly decisionId: string;
    /** The proposed action, as the agent decided it. */
    readonly action: unknown;
    readonly reason?: string;
    /** ISO-8601 instant after which the timeout policy decides instead of a person. */
    readonly expiresAt?: string;
  };
};

export const APPROVAL_DECISIONS = ['approve', 'reject'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

export type ResolveApproval = {
  readonly type: 'ResolveApproval';
  readonly data: {
    readonly conversationId: string;
    readonly approvalId: string;
    readonly decision: ApprovalDecision;
    readonly comment?: string;
    /** Defaults to `context.actor`. */
    readonly resolvedBy?: Actor;
  };
};

/** Issued by the approval timer when nobody decided in time; `decision` is the timeout policy's. */
export type ExpireApproval = {
  readonly type: 'ExpireApproval';
  readonly data: { readonly conversationId: string; readonly approvalId: string; readonly decision: ApprovalDecision };
};

export type CloseConversation = {
  readonly type: 'CloseConversation';
  readonly data: { readonly conversationId: string; readonly reason?: string };
};

export type ConversationCommand =
  | StartConversation
  | PostMessage
  | RecordReply
  | RequestApproval
  | ResolveApproval
  | ExpireApproval
  | CloseConversation;
