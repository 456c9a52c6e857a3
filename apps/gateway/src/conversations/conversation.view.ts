import { Type, type Static } from '@sinclair/typebox';
import type { ConversationState } from '@meridian/domain';

const Actor = Type.Object({ kind: Type.String(), id: Type.String() });

const PendingApprovalSchema = Type.Object({
  approvalId: Type.String(),
  agentId: Type.String(),
  decisionId: Type.String(),
  action: Type.Unknown({ description: 'The proposed action, as the agent decided it' }),
  reason: Type.Optional(Type.String()),
  requestedAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});

/**
 * The conversation as its commands answer it (API.md "Conversations"). Messages themselves are on
 * the read side (`GET /api/v1/conversations/:id`); the write side knows how many there are.
 */
export const ConversationViewSchema = Type.Object(
  {
    id: Type.String(),
    title: Type.Optional(Type.String()),
    status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
    agentIds: Type.Array(Type.String(), { description: 'Participating agents' }),
    startedBy: Actor,
    messageCount: Type.Integer(),
    pendingApprovals: Type.Array(PendingApprovalSchema, { description: 'Oldest first' }),
    settledApprovals: Type.Record(Type.String(), Type.Union(['approved', 'rejected', 'expired', 'cancelled'].map((o) => Type.Literal(o))), {
      description: 'How each approval that is no longer pending ended, by approval id',
    }),
    version: Type.Integer({ description: 'How many changes the conversation has seen (1 once started)' }),
    revision: Type.Integer({ description: 'Stream revision; the ETag of this conversation' }),
  },
  { $id: 'Conversation' },
);
export type ConversationView = Static<typeof ConversationViewSchema>;

export function conversationViewFromState(state: ConversationState, revision: number): ConversationView | null {
  if (state === null) return null;
  return {
    id: state.id,
    ...(state.title !== undefined ? { title: state.title } : {}),
    status: state.status,
    agentIds: [...state.participants],
    startedBy: { kind: state.startedBy.kind, id: state.startedBy.id },
    messageCount: state.messageCount,
    pendingApprovals: Object.values(state.pendingApprovals)
      .map((approval) => ({ ...approval }))
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)),
    settledApprovals: { ...state.settledApprovals },
    // Every event of a conversation's stream is one change: revision 0 is the start.
    version: revision + 1,
    revision,
  };
}
