import { fold } from '../shared/decider';
import { DeciderSpecification } from '../shared/decider-specification';
import type { ConversationCommand, PostMessage, RecordReply, RequestApproval } from './conversation.commands';
import { conversationDecider } from './conversation.decider';
import {
  CONVERSATION_EVENT_TYPES,
  type ConversationApprovalRequested,
  type ConversationEvent,
  type ConversationEventType,
} from './conversation.events';
import { CONVERSATION_RECENT_MESSAGE_WINDOW } from './conversation.state';

const spec = DeciderSpecification.for(conversationDecider);
const conversationId = 'conversation-1';
const user = { kind: 'user' as const, id: 'user-1' };
const now = '2026-01-01T00:00:00.000Z';

const started: ConversationEvent = {
  type: 'conversation.started',
  data: { conversationId, agentIds: ['agent-1', 'agent-2'], title: 'Refunds', startedBy: user },
};
const closed: ConversationEvent = { type: 'conversation.closed', data: { conversationId, closedBy: user, cancelledApprovalIds: [] } };

const postMessage = (overrides: Partial<PostMessage['data']> = {}): ConversationCommand => ({
  type: 'PostMessage',
  data: { conversationId, messageId: 'message-1', content: 'Refund order 7?', author: user, ...overrides },
});
const posted: ConversationEvent = {
  type: 'conversation.message-posted',
  data: { conversationId, messageId: 'message-1', author: user, content: 'Refund order 7?' },
};

const recordReply = (overrides: Partial<RecordReply['data']> = {}): ConversationCommand => ({
  type: 'RecordReply',
  data: { conversationId, messageId: 'reply-1', agentId: 'agent-1', content: 'Checking.', decisionId: 'decision-1', inReplyTo: 'message-1', ...overrides },
});
const replied: ConversationEvent = {
  type: 'conversation.reply-recorded',
  data: { conversationId, messageId: 'reply-1', agentId: 'agent-1', content: 'Checking.', decisionId: 'decision-1', inReplyTo: 'message-1' },
};

const refund = { action: 'call-webhook', url: 'https://payments.example/refunds', body: { order: 'order-7' } };
const requestApproval = (overrides: Partial<RequestApproval['data']> = {}): ConversationCommand => ({
  type: 'RequestApproval',
  data: {
    conversationId,
    approvalId: 'approval-1',
    agentId: 'agent-1',
    decisionId: 'decision-1',
    action: refund,
    reason: 'large refund',
    expiresAt: '2026-01-01T01:00:00.000Z',
    ...overrides,
  },
});
const requested = (overrides: Partial<ConversationApprovalRequested['data']> = {}): ConversationEvent => ({
  type: 'conversation.approval-requested',
  data: {
    conversationId,
    approvalId: 'approval-1',
    agentId: 'agent-1',
    decisionId: 'decision-1',
    action: refund,
    reason: 'large refund',
    requestedAt: now,
    expiresAt: '2026-01-01T01:00:00.000Z',
    ...overrides,
  },
});
const approvalSubject = { conversationId, approvalId: 'approval-1', agentId: 'agent-1', decisionId: 'decision-1', action: refund };
const approved: ConversationEvent = {
  type: 'conversation.approval-resolved',
  data: { ...approvalSubject, decision: 'approve', resolvedBy: user, resolvedAt: now },
};
const resolve = (decision: 'approve' | 'reject' = 'approve', approvalId = 'approval-1'): ConversationCommand => ({
  type: 'ResolveApproval',
  data: { conversationId, approvalId, decision },
});
const expire = (decision: 'approve' | 'reject' = 'reject'): ConversationCommand => ({
  type: 'ExpireApproval',
  data: { conversationId, approvalId: 'approval-1', decision },
});
const afterDeadline = { now: '2026-01-01T01:00:00.000Z' };

describe('conversation decider', () => {
  it('lists every event type it defines', () => {
    const complete: [Exclude<ConversationEventType, (typeof CONVERSATION_EVENT_TYPES)[number]>] extends [never] ? true : false = true;
    expect(complete).toBe(true);
  });

  describe('StartConversation', () => {
    it('starts a conversation with its agents, started by the acting user', () => {
      spec
        .given([])
        .when({ type: 'StartConversation', data: { conversationId, agentIds: ['agent-1', 'agent-2'], title: 'Refunds' } }, { actor: user })
        .then([started]);
    });

    it('records who started it when given, and no title when none', () => {
      const system = { kind: 'system' as const, id: 'scheduler' };
      spec
        .given([])
        .when({ type: 'StartConversation', data: { conversationId, agentIds: ['agent-1'], startedBy: system } })
        .then([{ type: 'conversation.started', data: { conversationId, agentIds: ['agent-1'], startedBy: system } }]);
    });

    it('rejects starting twice', () => {
      spec.given([started]).when({ type: 'StartConversation', data: { conversationId, agentIds: ['agent-1'] } }).thenThrows('CONVERSATION_ALREADY_EXISTS', 'conflict');
    });

    it.each([
      [{ agentIds: [] }, ['agentIds']],
      [{ agentIds: ['agent-1', 'agent-1'] }, ['agentIds[1]']],
      [{ agentIds: ['agent-1', ''] }, ['agentIds[1]']],
      [{ title: 'x'.repeat(201) }, ['title']],
      [{ conversationId: '' }, ['conversationId']],
    ])('rejects %j', (overrides, paths) => {
      const error = spec
        .given([])
        .when({ type: 'StartConversation', data: { conversationId, agentIds: ['agent-1'], ...overrides } })
        .thenThrows('VALIDATION_FAILED', 'validation');
      expect((error.details?.errors as { path: string }[]).map((issue) => issue.path)).toEqual(paths);
    });
  });

  describe('PostMessage', () => {
    it('posts a user message', () => {
      spec.given([started]).when(postMessage()).then([posted]);
    });

    it('takes the message id from the context when none is given', () => {
      spec
        .given([started])
        .when(postMessage({ messageId: undefined }), { newId: () => 'generated' })
        .then([{ type: 'conversation.message-posted', data: { conversationId, messageId: 'generated', author: user, content: 'Refund order 7?' } }]);
    });

    it('posts a message from a participating agent', () => {
      const agent = { kind: 'agent' as const, id: 'agent-2' };
      spec
        .given([started])
        .when(postMessage({ author: agent }))
        .then([{ type: 'conversation.message-posted', data: { conversationId, messageId: 'message-1', author: agent, content: 'Refund order 7?' } }]);
    });

    it('rejects a message from an agent that does not take part', () => {
      spec.given([started]).when(postMessage({ author: { kind: 'agent', id: 'agent-9' } })).thenThrows('NOT_A_PARTICIPANT', 'unprocessable');
    });

    it('is a no-op for a message already posted, even after closing', () => {
      spec.given([started, posted]).when(postMessage()).thenNothingHappens();
      spec.given([started, posted, closed]).when(postMessage()).thenNothingHappens();
    });

    it('rejects empty and oversize content, and a malformed author', () => {
      spec.given([started]).when(postMessage({ content: ' ' })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([started]).when(postMessage({ content: 'x'.repeat(10_001) })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([started]).when(postMessage({ author: { kind: 'bot' as never, id: 'b' } })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('accepts content of exactly 10000 characters', () => {
      const content = 'x'.repeat(10_000);
      spec.given([started]).when(postMessage({ content })).then([{ ...posted, data: { ...posted.data, content } } as ConversationEvent]);
    });

    it('rejects posting in a closed conversation', () => {
      spec.given([started, closed]).when(postMessage()).thenThrows('CONVERSATION_CLOSED', 'conflict');
    });

    it('rejects an unknown conversation', () => {
      spec.given([]).when(postMessage()).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });
  });

  describe('RecordReply', () => {
    it('records a participating agent reply', () => {
      spec.given([started, posted]).when(recordReply()).then([replied]);
    });

    it('records a reply without decision or message replied to', () => {
      spec
        .given([started])
        .when(recordReply({ decisionId: undefined, inReplyTo: undefined }))
        .then([{ type: 'conversation.reply-recorded', data: { conversationId, messageId: 'reply-1', agentId: 'agent-1', content: 'Checking.' } }]);
    });

    it('accepts replies longer than people may type', () => {
      const content = 'x'.repeat(50_000);
      spec.given([started]).when(recordReply({ content })).then([{ ...replied, data: { ...replied.data, content } } as ConversationEvent]);
    });

    it('is a no-op for a reply already recorded', () => {
      spec.given([started, replied]).when(recordReply()).thenNothingHappens();
    });

    it('rejects a reply from an agent that does not take part', () => {
      spec.given([started]).when(recordReply({ agentId: 'agent-9' })).thenThrows('NOT_A_PARTICIPANT', 'unprocessable');
    });

    it('rejects a reply in a closed conversation', () => {
      spec.given([started, closed]).when(recordReply()).thenThrows('CONVERSATION_CLOSED', 'conflict');
    });

    it('rejects an empty reply or one without message id', () => {
      spec.given([started]).when(recordReply({ content: '' })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([started]).when(recordReply({ messageId: '' })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([started]).when(recordReply({ content: 'x'.repeat(100_001) })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects an unknown conversation', () => {
      spec.given([]).when(recordReply()).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });
  });

  describe('RequestApproval', () => {
    it('records a pending approval with its deadline', () => {
      spec.given([started]).when(requestApproval()).then([requested()]);
    });

    it('takes the approval id from the context, and needs no deadline', () => {
      const { expiresAt: _none, ...withoutDeadline } = requested({ approvalId: 'generated' }).data as ConversationApprovalRequested['data'];
      spec
        .given([started])
        .when(requestApproval({ approvalId: undefined, expiresAt: undefined }), { newId: () => 'generated' })
        .then([{ type: 'conversation.approval-requested', data: withoutDeadline }]);
    });

    it('is a no-op for an approval already requested, pending or settled', () => {
      spec.given([started, requested()]).when(requestApproval()).thenNothingHappens();
      spec.given([started, requested(), approved]).when(requestApproval()).thenNothingHappens();
    });

    it('rejects a request from an agent that does not take part', () => {
      spec.given([started]).when(requestApproval({ agentId: 'agent-9' })).thenThrows('NOT_A_PARTICIPANT', 'unprocessable');
    });

    it('rejects a deadline that is not in the future', () => {
      const error = spec.given([started]).when(requestApproval({ expiresAt: now })).thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.message).toMatch(/^expiresAt: /);
      spec.given([started]).when(requestApproval({ expiresAt: 'tomorrow' })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects a request without decision or action', () => {
      spec.given([started]).when(requestApproval({ decisionId: '' })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([started]).when(requestApproval({ action: undefined })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects a request in a closed conversation', () => {
      spec.given([started, closed]).when(requestApproval()).thenThrows('CONVERSATION_CLOSED', 'conflict');
    });

    it('rejects an unknown conversation', () => {
      spec.given([]).when(requestApproval()).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });
  });

  describe('ResolveApproval', () => {
    it('approves a pending approval, repeating what was proposed', () => {
      spec.given([started, requested()]).when(resolve('approve'), { actor: user }).then([approved]);
    });

    it('rejects with a comment, recording who resolved it', () => {
      const reviewer = { kind: 'user' as const, id: 'reviewer' };
      spec
        .given([started, requested()])
        .when({ type: 'ResolveApproval', data: { conversationId, approvalId: 'approval-1', decision: 'reject', comment: 'too much', resolvedBy: reviewer } })
        .then([
          { type: 'conversation.approval-resolved', data: { ...approvalSubject, decision: 'reject', comment: 'too much', resolvedBy: reviewer, resolvedAt: now } },
        ]);
    });

    it('rejects an unknown approval', () => {
      spec.given([started, requested()]).when(resolve('approve', 'approval-9')).thenThrows('APPROVAL_NOT_FOUND', 'not-found');
      spec.given([started]).when(resolve('approve', 'toString')).thenThrows('APPROVAL_NOT_FOUND', 'not-found');
    });

    it('rejects resolving twice', () => {
      const error = spec.given([started, requested(), approved]).when(resolve('reject')).thenThrows('APPROVAL_ALREADY_RESOLVED', 'conflict');
      expect(error.details).toMatchObject({ outcome: 'approved' });
    });

    it('rejects resolving an approval that expired', () => {
      const expired: ConversationEvent = { type: 'conversation.approval-expired', data: { ...approvalSubject, decision: 'reject', expiredAt: now } };
      spec.given([started, requested(), expired]).when(resolve()).thenThrows('APPROVAL_ALREADY_RESOLVED', 'conflict');
    });

    it('rejects resolving past the deadline, before the timer has fired', () => {
      spec.given([started, requested()]).when(resolve(), afterDeadline).thenThrows('APPROVAL_EXPIRED', 'conflict');
    });

    it('rejects resolving an approval cancelled by closing', () => {
      const closedWithPending: ConversationEvent = { type: 'conversation.closed', data: { conversationId, closedBy: user, cancelledApprovalIds: ['approval-1'] } };
      spec.given([started, requested(), closedWithPending]).when(resolve()).thenThrows('APPROVAL_ALREADY_RESOLVED', 'conflict');
    });

    it('rejects a decision other than approve or reject', () => {
      spec.given([started, requested()]).when(resolve('maybe' as never)).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects an unknown conversation', () => {
      spec.given([]).when(resolve()).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });
  });

  describe('ExpireApproval', () => {
    it('expires a pending approval at its deadline with the policy decision', () => {
      spec
        .given([started, requested()])
        .when(expire('reject'), afterDeadline)
        .then([{ type: 'conversation.approval-expired', data: { ...approvalSubject, decision: 'reject', expiredAt: afterDeadline.now } }]);
    });

    it('expires an approval without deadline whenever the policy says so', () => {
      spec
        .given([started, requested({ expiresAt: undefined })])
        .when(expire('approve'))
        .then([{ type: 'conversation.approval-expired', data: { ...approvalSubject, decision: 'approve', expiredAt: now } }]);
    });

    it('rejects expiring before the deadline', () => {
      spec.given([started, requested()]).when(expire()).thenThrows('APPROVAL_NOT_EXPIRED', 'conflict');
    });

    it('is a no-op once a person has resolved it, or closing cancelled it', () => {
      spec.given([started, requested(), approved]).when(expire(), afterDeadline).thenNothingHappens();
      const closedWithPending: ConversationEvent = { type: 'conversation.closed', data: { conversationId, closedBy: user, cancelledApprovalIds: ['approval-1'] } };
      spec.given([started, requested(), closedWithPending]).when(expire(), afterDeadline).thenNothingHappens();
    });

    it('rejects an unknown approval and an unknown conversation', () => {
      spec.given([started]).when(expire(), afterDeadline).thenThrows('APPROVAL_NOT_FOUND', 'not-found');
      spec.given([]).when(expire()).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });

    it('rejects a policy decision other than approve or reject', () => {
      spec.given([started, requested()]).when(expire('later' as never), afterDeadline).thenThrows('VALIDATION_FAILED', 'validation');
    });
  });

  describe('CloseConversation', () => {
    it('closes, cancelling the approvals still pending', () => {
      spec
        .given([started, requested(), requested({ approvalId: 'approval-2' }), approved])
        .when({ type: 'CloseConversation', data: { conversationId, reason: 'done' } }, { actor: user })
        .then([{ type: 'conversation.closed', data: { conversationId, reason: 'done', closedBy: user, cancelledApprovalIds: ['approval-2'] } }]);
    });

    it('rejects closing twice', () => {
      spec.given([started, closed]).when({ type: 'CloseConversation', data: { conversationId } }).thenThrows('CONVERSATION_CLOSED', 'conflict');
    });

    it('rejects an unknown conversation', () => {
      spec.given([]).when({ type: 'CloseConversation', data: { conversationId } }).thenThrows('CONVERSATION_NOT_FOUND', 'not-found');
    });
  });

  describe('state', () => {
    it('folds participants, message count, pending and settled approvals, status', () => {
      const state = fold(conversationDecider, [started, posted, replied, requested(), requested({ approvalId: 'approval-2' }), approved, closed]);
      expect(state).toMatchObject({
        id: conversationId,
        status: 'closed',
        participants: ['agent-1', 'agent-2'],
        messageCount: 2,
        pendingApprovals: { 'approval-2': { agentId: 'agent-1', decisionId: 'decision-1' } },
        settledApprovals: { 'approval-1': 'approved' },
      });
    });

    it('keeps a bounded window of recent message ids while counting all messages', () => {
      const messages: ConversationEvent[] = Array.from({ length: CONVERSATION_RECENT_MESSAGE_WINDOW + 2 }, (_, i) => ({
        type: 'conversation.message-posted',
        data: { conversationId, messageId: `m-${i}`, author: user, content: 'hi' },
      }));
      const state = fold(conversationDecider, [started, ...messages]);
      expect(state?.messageCount).toBe(CONVERSATION_RECENT_MESSAGE_WINDOW + 2);
      expect(state?.recentMessageIds).toHaveLength(CONVERSATION_RECENT_MESSAGE_WINDOW);
      expect(state?.recentMessageIds[0]).toBe('m-2');
    });
  });
});
