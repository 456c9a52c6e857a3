import { Type } from '@sinclair/typebox';
import { APPROVAL_DECISIONS, MAX_CONVERSATION_MESSAGE_LENGTH, MAX_CONVERSATION_TITLE_LENGTH } from '@meridian/domain';

/** HTTP shapes of conversation commands (API.md "Conversations"); the decider checks the invariants. */
const strict = { additionalProperties: false } as const;
/** Same id rule as agents: ids appear in URLs and stream names. */
const Id = (description: string) => Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', description });
/** Contains something other than whitespace (so is not empty either: one error for a blank field). */
const NonBlank = (maxLength: number) => Type.String({ maxLength, pattern: '\\S' });

/** Bounds the agents loaded to check a new conversation's participants. */
export const MAX_CONVERSATION_AGENTS = 20;

export const StartConversationRequestSchema = Type.Object(
  {
    id: Type.Optional(Id('Client-supplied id; a UUID is generated when absent')),
    agentIds: Type.Array(Id('An agent id'), { minItems: 1, maxItems: MAX_CONVERSATION_AGENTS, uniqueItems: true, description: 'Existing, non-retired agents' }),
    title: Type.Optional(NonBlank(MAX_CONVERSATION_TITLE_LENGTH)),
  },
  { ...strict, $id: 'StartConversationRequest' },
);

export const PostConversationMessageRequestSchema = Type.Object(
  { content: NonBlank(MAX_CONVERSATION_MESSAGE_LENGTH) },
  { ...strict, $id: 'PostConversationMessageRequest' },
);

export const PostedConversationMessageSchema = Type.Object(
  {
    messageId: Type.String(),
    position: Type.Integer({ description: 'Global position of the write; pass it as minPosition to read it back' }),
  },
  { $id: 'PostedConversationMessage' },
);

export const ResolveApprovalRequestSchema = Type.Object(
  {
    decision: Type.Union(APPROVAL_DECISIONS.map((decision) => Type.Literal(decision))),
    comment: Type.Optional(NonBlank(2000)),
  },
  { ...strict, $id: 'ResolveApprovalRequest' },
);
