import { assertNever, type Decider } from '../shared/decider';
import { conflict, invalid, notFound, unprocessable } from '../shared/domain-error';
import type { Actor, CommandContext } from '../shared/event';
import {
  APPROVAL_DECISIONS,
  MESSAGE_AUTHOR_KINDS,
  type ApprovalDecision,
  type ConversationCommand,
  type ExpireApproval,
  type PostMessage,
  type RecordReply,
  type RequestApproval,
  type ResolveApproval,
  type StartConversation,
} from './conversation.commands';
import type { ConversationEvent } from './conversation.events';
import {
  CONVERSATION_RECENT_MESSAGE_WINDOW,
  initialConversationState,
  type ApprovalOutcome,
  type ConversationState,
  type PendingApproval,
  type StartedConversationState,
} from './conversation.state';

export const MAX_CONVERSATION_MESSAGE_LENGTH = 10_000;
/** Replies come from models and may run longer than what people type. */
export const MAX_CONVERSATION_REPLY_LENGTH = 100_000;
export const MAX_CONVERSATION_TITLE_LENGTH = 200;
const MAX_NOTE_LENGTH = 2_000;

interface Issue {
  readonly path: string;
  readonly message: string;
}
const validationFailed = (issues: readonly Issue[]) =>
  invalid('VALIDATION_FAILED', issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { errors: issues });
function check(issues: Issue[]): void {
  if (issues.length > 0) throw validationFailed(issues);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonBlank = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const isTimestamp = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));
const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

function text(value: unknown, path: string, max: number, issues: Issue[]): void {
  if (!isNonBlank(value) || value.length > max) issues.push({ path, message: `must be 1–${max} characters` });
}
function optionalText(value: unknown, path: string, max: number, issues: Issue[]): void {
  if (value !== undefined) text(value, path, max, issues);
}
function actor(value: unknown, path: string, issues: Issue[]): void {
  if (!isRecord(value) || !isNonBlank(value.kind) || !isNonBlank(value.id)) issues.push({ path, message: 'must be { kind, id }' });
}

function open(state: ConversationState, conversationId: string): StartedConversationState {
  const conversation = started(state, conversationId);
  if (conversation.status === 'closed') {
    throw conflict('CONVERSATION_CLOSED', `Conversation ${conversation.id} is closed`, { conversationId: conversation.id });
  }
  return conversation;
}

function started(state: ConversationState, conversationId: string): StartedConversationState {
  if (state === null) throw notFound('CONVERSATION_NOT_FOUND', `Conversation ${conversationId} does not exist`, { conversationId });
  return state;
}

function requireParticipant(conversation: StartedConversationState, agentId: string): void {
  if (!conversation.participants.includes(agentId)) {
    throw unprocessable('NOT_A_PARTICIPANT', `Agent ${agentId} does not take part in conversation ${conversation.id}`, {
      conversationId: conversation.id,
      agentId,
    });
  }
}

/** Own entries only: ids are client data and must never resolve to Object.prototype members. */
function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function start(command: StartConversation, state: ConversationState, context: CommandContext): ConversationEvent[] {
  const { conversationId, agentIds, title } = command.data;
  if (state !== null) throw conflict('CONVERSATION_ALREADY_EXISTS', `Conversation ${state.id} already exists`, { conversationId: state.id });
  const startedBy = command.data.startedBy ?? context.actor;
  const issues: Issue[] = [];
  if (!isNonBlank(conversationId)) issues.push({ path: 'conversationId', message: 'is required' });
  if (!Array.isArray(agentIds) || agentIds.length === 0) {
    issues.push({ path: 'agentIds', message: 'needs at least one agent' });
  } else {
    agentIds.forEach((agentId: unknown, index) => {
      if (!isNonBlank(agentId)) issues.push({ path: `agentIds[${index}]`, message: 'must be an agent id' });
      else if (agentIds.indexOf(agentId) !== index) issues.push({ path: `agentIds[${index}]`, message: `"${agentId}" is listed twice` });
    });
  }
  optionalText(title, 'title', MAX_CONVERSATION_TITLE_LENGTH, issues);
  actor(startedBy, 'startedBy', issues);
  check(issues);
  return [
    {
      type: 'conversation.started',
      data: { conversationId, agentIds: [...agentIds], ...optional('title', title), startedBy: { kind: startedBy.kind, id: startedBy.id } },
    },
  ];
}

function post(command: PostMessage, state: ConversationState, context: CommandContext): ConversationEvent[] {
  const { content, author } = command.data;
  const conversation = started(state, command.data.conversationId);
  const messageId = command.data.messageId ?? context.newId();
  // A retried post changes nothing, even after the conversation closed.
  if (conversation.recentMessageIds.includes(messageId)) return [];
  open(state, conversation.id);
  const issues: Issue[] = [];
  if (!isNonBlank(messageId)) issues.push({ path: 'messageId', message: 'must be a non-empty string' });
  text(content, 'content', MAX_CONVERSATION_MESSAGE_LENGTH, issues);
  if (!isRecord(author) || !(MESSAGE_AUTHOR_KINDS as readonly unknown[]).includes(author.kind) || !isNonBlank(author.id)) {
    issues.push({ path: 'author', message: 'must be { kind: user | agent, id }' });
  }
  check(issues);
  // People are let in by the edge (tenant and role); agents only speak where they take part.
  if (author.kind === 'agent') requireParticipant(conversation, author.id);
  return [
    { type: 'conversation.message-posted', data: { conversationId: conversation.id, messageId, author: { kind: author.kind, id: author.id }, content } },
  ];
}

function reply(command: RecordReply, state: ConversationState): ConversationEvent[] {
  const { messageId, agentId, content, decisionId, inReplyTo } = command.data;
  const conversation = started(state, command.data.conversationId);
  if (conversation.recentMessageIds.includes(messageId)) return [];
  open(state, conversation.id);
  const issues: Issue[] = [];
  if (!isNonBlank(messageId)) issues.push({ path: 'messageId', message: 'is required' });
  if (!isNonBlank(agentId)) issues.push({ path: 'agentId', message: 'is required' });
  text(content, 'content', MAX_CONVERSATION_REPLY_LENGTH, issues);
  if (decisionId !== undefined && !isNonBlank(decisionId)) issues.push({ path: 'decisionId', message: 'must be a non-empty string' });
  if (inReplyTo !== undefined && !isNonBlank(inReplyTo)) issues.push({ path: 'inReplyTo', message: 'must be a non-empty string' });
  check(issues);
  requireParticipant(conversation, agentId);
  return [
    {
      type: 'conversation.reply-recorded',
      data: { conversationId: conversation.id, messageId, agentId, content, ...optional('decisionId', decisionId), ...optional('inReplyTo', inReplyTo) },
    },
  ];
}

function requestApproval(command: RequestApproval, state: ConversationState, context: CommandContext): ConversationEvent[] {
  const { agentId, decisionId, action, reason, expiresAt } = command.data;
  const conversation = started(state, command.data.conversationId);
  const approvalId = command.data.approvalId ?? context.newId();
  // A retried request (the action executor runs at least once) changes nothing.
  if (own(conversation.pendingApprovals, approvalId) !== undefined || own(conversation.settledApprovals, approvalId) !== undefined) return [];
  open(state, conversation.id);
  const issues: Issue[] = [];
  if (!isNonBlank(approvalId)) issues.push({ path: 'approvalId', message: 'must be a non-empty string' });
  if (!isNonBlank(agentId)) issues.push({ path: 'agentId', message: 'is required' });
  if (!isNonBlank(decisionId)) issues.push({ path: 'decisionId', message: 'is required' });
  if (action === undefined) issues.push({ path: 'action', message: 'is required' });
  optionalText(reason, 'reason', MAX_NOTE_LENGTH, issues);
  if (expiresAt !== undefined && (!isTimestamp(expiresAt) || Date.parse(expiresAt) <= Date.parse(context.now))) {
    issues.push({ path: 'expiresAt', message: 'must be an ISO-8601 instant in the future' });
  }
  check(issues);
  requireParticipant(conversation, agentId);
  return [
    {
      type: 'conversation.approval-requested',
      data: {
        conversationId: conversation.id,
        approvalId,
        agentId,
        decisionId,
        action,
        ...optional('reason', reason),
        requestedAt: context.now,
        ...optional('expiresAt', expiresAt),
      },
    },
  ];
}

function pendingApproval(conversation: StartedConversationState, approvalId: string): PendingApproval {
  const pending = own(conversation.pendingApprovals, approvalId);
  if (pending !== undefined) return pending;
  const details = { conversationId: conversation.id, approvalId };
  const outcome = own(conversation.settledApprovals, approvalId);
  if (outcome !== undefined) throw conflict('APPROVAL_ALREADY_RESOLVED', `Approval ${approvalId} is already ${outcome}`, { ...details, outcome });
  throw notFound('APPROVAL_NOT_FOUND', `Approval ${approvalId} does not exist in conversation ${conversation.id}`, details);
}

function validDecision(decision: unknown): asserts decision is ApprovalDecision {
  if (!(APPROVAL_DECISIONS as readonly unknown[]).includes(decision)) {
    throw validationFailed([{ path: 'decision', message: 'must be approve or reject' }]);
  }
}

const subjectOf = (conversationId: string, approval: PendingApproval) => ({
  conversationId,
  approvalId: approval.approvalId,
  agentId: approval.agentId,
  decisionId: approval.decisionId,
  action: approval.action,
});

function resolveApproval(command: ResolveApproval, state: ConversationState, context: CommandContext): ConversationEvent[] {
  const { approvalId, decision, comment } = command.data;
  // Closing cancels pending approvals, so a closed conversation answers APPROVAL_ALREADY_RESOLVED.
  const conversation = started(state, command.data.conversationId);
  const approval = pendingApproval(conversation, approvalId);
  if (approval.expiresAt !== undefined && Date.parse(context.now) >= Date.parse(approval.expiresAt)) {
    // Past its deadline the timeout policy decides, even if its timer has not fired yet.
    throw conflict('APPROVAL_EXPIRED', `Approval ${approvalId} expired at ${approval.expiresAt}`, {
      conversationId: conversation.id,
      approvalId,
      expiresAt: approval.expiresAt,
    });
  }
  validDecision(decision);
  const resolvedBy = command.data.resolvedBy ?? context.actor;
  const issues: Issue[] = [];
  optionalText(comment, 'comment', MAX_NOTE_LENGTH, issues);
  actor(resolvedBy, 'resolvedBy', issues);
  check(issues);
  const by: Actor = { kind: resolvedBy.kind, id: resolvedBy.id };
  return [
    {
      type: 'conversation.approval-resolved',
      data: { ...subjectOf(conversation.id, approval), decision, ...optional('comment', comment), resolvedBy: by, resolvedAt: context.now },
    },
  ];
}

function expireApproval(command: ExpireApproval, state: ConversationState, context: CommandContext): ConversationEvent[] {
  const { approvalId, decision } = command.data;
  const conversation = started(state, command.data.conversationId);
  // The timer lost the race to a person (or to closing): nothing is left to expire.
  if (own(conversation.settledApprovals, approvalId) !== undefined) return [];
  const approval = pendingApproval(conversation, approvalId);
  if (approval.expiresAt !== undefined && Date.parse(context.now) < Date.parse(approval.expiresAt)) {
    throw conflict('APPROVAL_NOT_EXPIRED', `Approval ${approvalId} expires at ${approval.expiresAt}`, {
      conversationId: conversation.id,
      approvalId,
      expiresAt: approval.expiresAt,
    });
  }
  validDecision(decision);
  return [{ type: 'conversation.approval-expired', data: { ...subjectOf(conversation.id, approval), decision, expiredAt: context.now } }];
}

function decide(command: ConversationCommand, state: ConversationState, context: CommandContext): ConversationEvent[] {
  switch (command.type) {
    case 'StartConversation':
      return start(command, state, context);
    case 'PostMessage':
      return post(command, state, context);
    case 'RecordReply':
      return reply(command, state);
    case 'RequestApproval':
      return requestApproval(command, state, context);
    case 'ResolveApproval':
      return resolveApproval(command, state, context);
    case 'ExpireApproval':
      return expireApproval(command, state, context);
    case 'CloseConversation': {
      const conversation = open(state, command.data.conversationId);
      const { reason } = command.data;
      const issues: Issue[] = [];
      optionalText(reason, 'reason', MAX_NOTE_LENGTH, issues);
      check(issues);
      return [
        {
          type: 'conversation.closed',
          data: {
            conversationId: conversation.id,
            ...optional('reason', reason),
            closedBy: { kind: context.actor.kind, id: context.actor.id },
            cancelledApprovalIds: Object.keys(conversation.pendingApprovals),
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

function appendToWindow(window: readonly string[], id: string): readonly string[] {
  const next = [...window, id];
  return next.length > CONVERSATION_RECENT_MESSAGE_WINDOW ? next.slice(next.length - CONVERSATION_RECENT_MESSAGE_WINDOW) : next;
}

function settle(state: StartedConversationState, approvalIds: readonly string[], outcome: ApprovalOutcome): StartedConversationState {
  const pendingApprovals = { ...state.pendingApprovals };
  const settledApprovals = { ...state.settledApprovals };
  for (const approvalId of approvalIds) {
    delete pendingApprovals[approvalId];
    settledApprovals[approvalId] = outcome;
  }
  return { ...state, pendingApprovals, settledApprovals };
}

function evolve(state: ConversationState, event: ConversationEvent): ConversationState {
  if (event.type === 'conversation.started') {
    const { conversationId, agentIds, title, startedBy } = event.data;
    return {
      id: conversationId,
      status: 'open',
      ...optional('title', title),
      startedBy,
      participants: agentIds,
      messageCount: 0,
      recentMessageIds: [],
      pendingApprovals: {},
      settledApprovals: {},
    };
  }
  // Nothing but a start can begin a conversation's history.
  if (state === null) return state;
  switch (event.type) {
    case 'conversation.message-posted':
    case 'conversation.reply-recorded':
      return { ...state, messageCount: state.messageCount + 1, recentMessageIds: appendToWindow(state.recentMessageIds, event.data.messageId) };
    case 'conversation.approval-requested': {
      const { conversationId: _conversation, ...approval } = event.data;
      return { ...state, pendingApprovals: { ...state.pendingApprovals, [approval.approvalId]: approval } };
    }
    case 'conversation.approval-resolved':
      return settle(state, [event.data.approvalId], event.data.decision === 'approve' ? 'approved' : 'rejected');
    case 'conversation.approval-expired':
      return settle(state, [event.data.approvalId], 'expired');
    case 'conversation.closed':
      return { ...settle(state, event.data.cancelledApprovalIds, 'cancelled'), status: 'closed' };
    default:
      return assertNever(event);
  }
}

export const conversationDecider: Decider<ConversationState, ConversationCommand, ConversationEvent> = {
  decide,
  evolve,
  initialState: initialConversationState,
};
