import { assertNever, CONVERSATION_EVENT_TYPES, CONVERSATION_STREAM_CATEGORY, type ConversationEvent, type RecordedEvent } from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { groupByTenant, readAggregateEvent, rowKey, type AggregateEvent } from '../shared/aggregate-events';
import { insertRows, loadRowsByColumn, upsertRows } from '../shared/row-writes';
import { ConversationApprovalRecord, ConversationMessageRecord, ConversationRecord } from './conversation-read-model.entities';

export const CONVERSATIONS_PROJECTION = 'conversations';

/**
 * Projects conversation streams into `rm_conversations`, their messages (in order) and their
 * approvals (pending until resolved, expired or cancelled by closing).
 */
export class ConversationsProjection implements Projection {
  readonly name = CONVERSATIONS_PROJECTION;
  readonly version = 1;
  readonly tables = [ConversationRecord, ConversationMessageRecord, ConversationApprovalRecord];
  readonly filter = { types: ['conversation.*'] };

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const batch: AggregateEvent<ConversationEvent>[] = [];
    for (const recorded of events) {
      const read = readAggregateEvent<ConversationEvent>(recorded, CONVERSATION_STREAM_CATEGORY, CONVERSATION_EVENT_TYPES);
      if (read) batch.push(read);
    }
    if (batch.length === 0) return;

    const conversations = new Map<string, ConversationRecord>();
    const approvals = new Map<string, ConversationApprovalRecord>();
    const changedConversations = new Set<string>();
    const changedApprovals = new Set<string>();
    const messages: ConversationMessageRecord[] = [];
    for (const [tenantId, items] of groupByTenant(batch)) {
      const ids = items.map((item) => item.aggregateId);
      for (const row of await loadRowsByColumn(manager, ConversationRecord, targetVersion, tenantId, 'conversationId', ids)) {
        conversations.set(rowKey(row.tenantId, row.conversationId), row);
      }
      // Approvals settled by this batch; a conversation has few approvals, so all of its are loaded.
      const settling = items.filter(({ event }) => event.type === 'conversation.approval-resolved' || event.type === 'conversation.approval-expired' || event.type === 'conversation.closed');
      for (const row of await loadRowsByColumn(manager, ConversationApprovalRecord, targetVersion, tenantId, 'conversationId', settling.map((item) => item.aggregateId))) {
        approvals.set(rowKey(row.tenantId, row.conversationId, row.approvalId), row);
      }
    }

    for (const { event, recorded, tenantId, aggregateId, occurredAt } of batch) {
      const key = rowKey(tenantId, aggregateId);
      if (event.type === 'conversation.started') {
        conversations.set(key, {
          projectionVersion: targetVersion,
          tenantId,
          conversationId: aggregateId,
          title: event.data.title ?? null,
          status: 'open',
          agentIds: [...event.data.agentIds],
          startedBy: { ...event.data.startedBy },
          messageCount: 0,
          pendingApprovalCount: 0,
          closedAt: null,
          closeReason: null,
          revision: recorded.revision,
          createdAt: occurredAt,
          updatedAt: occurredAt,
          createdPosition: recorded.position,
          lastPosition: recorded.position,
        });
        changedConversations.add(key);
        continue;
      }
      const conversation = conversations.get(key);
      // Nothing but `started` begins a conversation's history (as in the decider's evolve).
      if (!conversation) continue;
      conversation.revision = recorded.revision;
      conversation.lastPosition = recorded.position;
      conversation.updatedAt = occurredAt;
      changedConversations.add(key);
      const settle = (approvalId: string, status: ConversationApprovalRecord['status'], changes: Partial<ConversationApprovalRecord>) => {
        const approvalKey = rowKey(tenantId, aggregateId, approvalId);
        const approval = approvals.get(approvalKey);
        if (!approval || approval.status !== 'pending') return;
        Object.assign(approval, { status, settledAt: occurredAt, ...changes });
        conversation.pendingApprovalCount = Math.max(0, conversation.pendingApprovalCount - 1);
        changedApprovals.add(approvalKey);
      };
      switch (event.type) {
        case 'conversation.message-posted':
        case 'conversation.reply-recorded': {
          conversation.messageCount += 1;
          const reply = event.type === 'conversation.reply-recorded' ? event.data : null;
          messages.push({
            projectionVersion: targetVersion,
            tenantId,
            conversationId: aggregateId,
            position: recorded.position,
            messageId: event.data.messageId,
            kind: reply ? 'reply' : 'message',
            author: event.type === 'conversation.message-posted' ? { ...event.data.author } : { kind: 'agent', id: event.data.agentId },
            content: event.data.content,
            decisionId: reply?.decisionId ?? null,
            inReplyTo: reply?.inReplyTo ?? null,
            postedAt: occurredAt,
          });
          break;
        }
        case 'conversation.approval-requested': {
          const data = event.data;
          const approvalKey = rowKey(tenantId, aggregateId, data.approvalId);
          approvals.set(approvalKey, {
            projectionVersion: targetVersion,
            tenantId,
            conversationId: aggregateId,
            approvalId: data.approvalId,
            agentId: data.agentId,
            decisionId: data.decisionId,
            action: data.action === undefined ? null : data.action,
            reason: data.reason ?? null,
            status: 'pending',
            decision: null,
            comment: null,
            resolvedBy: null,
            requestedAt: data.requestedAt,
            expiresAt: data.expiresAt ?? null,
            settledAt: null,
            requestedPosition: recorded.position,
          });
          conversation.pendingApprovalCount += 1;
          changedApprovals.add(approvalKey);
          break;
        }
        case 'conversation.approval-resolved':
          settle(event.data.approvalId, event.data.decision === 'approve' ? 'approved' : 'rejected', {
            decision: event.data.decision,
            comment: event.data.comment ?? null,
            resolvedBy: { ...event.data.resolvedBy },
            settledAt: event.data.resolvedAt,
          });
          break;
        case 'conversation.approval-expired':
          settle(event.data.approvalId, 'expired', { decision: event.data.decision, settledAt: event.data.expiredAt });
          break;
        case 'conversation.closed':
          for (const approvalId of event.data.cancelledApprovalIds) settle(approvalId, 'cancelled', {});
          conversation.status = 'closed';
          conversation.closedAt = occurredAt;
          conversation.closeReason = event.data.reason ?? null;
          break;
        default:
          assertNever(event);
      }
    }

    await upsertRows(manager, ConversationRecord, [...changedConversations].map((key) => conversations.get(key) as ConversationRecord));
    await insertRows(manager, ConversationMessageRecord, messages);
    await upsertRows(manager, ConversationApprovalRecord, [...changedApprovals].map((key) => approvals.get(key) as ConversationApprovalRecord));
  }
}
