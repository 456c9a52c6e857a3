import type { Actor } from '../shared/event';

export interface PendingApproval {
  readonly approvalId: string;
  readonly agentId: string;
  readonly decisionId: string;
  readonly action: unknown;
  readonly reason?: string;
  readonly requestedAt: string;
  readonly expiresAt?: string;
}

export type ApprovalOutcome = 'approved' | 'rejected' | 'expired' | 'cancelled';

/**
 * How many recent message ids the state remembers so that a retried post or reply is a no-op.
 * A window keeps folding a long conversation linear; ids are fresh per message, so a duplicate
 * only comes from a retry, which follows its original closely.
 */
export const CONVERSATION_RECENT_MESSAGE_WINDOW = 256;

export interface StartedConversationState {
  readonly id: string;
  readonly status: 'open' | 'closed';
  readonly title?: string;
  readonly startedBy: Actor;
  /** Participating agent ids. */
  readonly participants: readonly string[];
  readonly messageCount: number;
  /** Oldest first, at most CONVERSATION_RECENT_MESSAGE_WINDOW. */
  readonly recentMessageIds: readonly string[];
  readonly pendingApprovals: Readonly<Record<string, PendingApproval>>;
  /** Every approval that is no longer pending, with how it ended (approvals are few; all are kept). */
  readonly settledApprovals: Readonly<Record<string, ApprovalOutcome>>;
}

/** Null until the conversation is started. */
export type ConversationState = StartedConversationState | null;

export const initialConversationState = (): ConversationState => null;
