import { DEFAULT_TENANT_ID } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { ConversationApprovalRecord, ConversationMessageRecord, ConversationRecord } from '../conversations/conversation-read-model.entities';
import { CONVERSATIONS_PROJECTION } from '../conversations/conversations.projection';
import { inReadTransaction, withReader } from '../read-model-transactions';
import { whereActiveVersion } from './active-version';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination';

export interface ConversationSummaryView {
  readonly id: string;
  readonly tenantId: string;
  readonly title: string | null;
  readonly status: 'open' | 'closed';
  readonly agentIds: readonly string[];
  readonly startedBy: Readonly<Record<string, unknown>>;
  readonly messageCount: number;
  readonly pendingApprovalCount: number;
  readonly closedAt: string | null;
  readonly closeReason: string | null;
  /** Stream revision (ETag). */
  readonly revision: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastPosition: number;
}

export interface ConversationMessageView {
  readonly messageId: string;
  /** `message` (posted by a person or agent) or `reply` (an agent's recorded reply). */
  readonly kind: 'message' | 'reply';
  readonly author: Readonly<Record<string, unknown>>;
  readonly content: string;
  readonly decisionId: string | null;
  readonly inReplyTo: string | null;
  readonly postedAt: string;
  readonly position: number;
}

export interface ConversationApprovalView {
  readonly approvalId: string;
  readonly agentId: string;
  readonly decisionId: string;
  readonly action: unknown;
  readonly reason: string | null;
  readonly status: ConversationApprovalRecord['status'];
  readonly decision: string | null;
  readonly comment: string | null;
  readonly resolvedBy: Readonly<Record<string, unknown>> | null;
  readonly requestedAt: string;
  readonly expiresAt: string | null;
  readonly settledAt: string | null;
}

/** A conversation with every message in order and the approvals still pending. */
export interface ConversationView extends ConversationSummaryView {
  readonly messages: readonly ConversationMessageView[];
  readonly pendingApprovals: readonly ConversationApprovalView[];
}

export function toConversationSummaryView(row: ConversationRecord): ConversationSummaryView {
  return {
    id: row.conversationId,
    tenantId: row.tenantId,
    title: row.title,
    status: row.status,
    agentIds: row.agentIds,
    startedBy: row.startedBy,
    messageCount: row.messageCount,
    pendingApprovalCount: row.pendingApprovalCount,
    closedAt: row.closedAt,
    closeReason: row.closeReason,
    revision: row.revision,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastPosition: row.lastPosition,
  };
}

export function toConversationMessageView(row: ConversationMessageRecord): ConversationMessageView {
  return {
    messageId: row.messageId,
    kind: row.kind,
    author: row.author,
    content: row.content,
    decisionId: row.decisionId,
    inReplyTo: row.inReplyTo,
    postedAt: row.postedAt,
    position: row.position,
  };
}

export function toConversationApprovalView(row: ConversationApprovalRecord): ConversationApprovalView {
  return {
    approvalId: row.approvalId,
    agentId: row.agentId,
    decisionId: row.decisionId,
    action: row.action ?? null,
    reason: row.reason,
    status: row.status,
    decision: row.decision,
    comment: row.comment,
    resolvedBy: row.resolvedBy,
    requestedAt: row.requestedAt,
    expiresAt: row.expiresAt,
    settledAt: row.settledAt,
  };
}

/** Conversations, their messages and approvals, from the `conversations` read model. */
export class ConversationsReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** In creation order, without messages. */
  async list(query: PageRequest & { readonly tenantId?: string } = {}): Promise<Page<ConversationSummaryView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const rows = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(ConversationRecord)
        .createQueryBuilder('cv')
        .where('cv.tenantId = :tenantId AND cv.createdPosition > :after', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, after });
      return whereActiveVersion(builder, manager, 'cv', CONVERSATIONS_PROJECTION)
        .orderBy('cv.createdPosition', 'ASC')
        .take(limit + 1)
        .getMany();
    });
    return toPage(rows, limit, (row) => row.createdPosition, toConversationSummaryView);
  }

  /** The conversation, its messages in order and its pending approvals, read from one snapshot. */
  async get(conversationId: string, tenantId: string = DEFAULT_TENANT_ID): Promise<ConversationView | null> {
    return inReadTransaction(this.dataSource, async (manager) => {
      const conversation = await whereActiveVersion(
        manager.getRepository(ConversationRecord).createQueryBuilder('cv').where('cv.tenantId = :tenantId AND cv.conversationId = :conversationId', { tenantId, conversationId }),
        manager,
        'cv',
        CONVERSATIONS_PROJECTION,
      ).getOne();
      if (!conversation) return null;
      const messages = await whereActiveVersion(
        manager.getRepository(ConversationMessageRecord).createQueryBuilder('ms').where('ms.tenantId = :tenantId AND ms.conversationId = :conversationId', { tenantId, conversationId }),
        manager,
        'ms',
        CONVERSATIONS_PROJECTION,
      )
        .orderBy('ms.position', 'ASC')
        .getMany();
      const pending = await whereActiveVersion(
        manager
          .getRepository(ConversationApprovalRecord)
          .createQueryBuilder('ap')
          .where("ap.tenantId = :tenantId AND ap.conversationId = :conversationId AND ap.status = 'pending'", { tenantId, conversationId }),
        manager,
        'ap',
        CONVERSATIONS_PROJECTION,
      )
        .orderBy('ap.requestedPosition', 'ASC')
        .getMany();
      return {
        ...toConversationSummaryView(conversation),
        messages: messages.map(toConversationMessageView),
        pendingApprovals: pending.map(toConversationApprovalView),
      };
    });
  }

  /** Messages of a conversation in order, paged (for long conversations). */
  async messages(conversationId: string, query: PageRequest & { readonly tenantId?: string } = {}): Promise<Page<ConversationMessageView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const rows = await withReader(this.dataSource, (manager) =>
      whereActiveVersion(
        manager
          .getRepository(ConversationMessageRecord)
          .createQueryBuilder('ms')
          .where('ms.tenantId = :tenantId AND ms.conversationId = :conversationId AND ms.position > :after', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, conversationId, after }),
        manager,
        'ms',
        CONVERSATIONS_PROJECTION,
      )
        .orderBy('ms.position', 'ASC')
        .take(limit + 1)
        .getMany(),
    );
    return toPage(rows, limit, (row) => row.position, toConversationMessageView);
  }

  /** Every approval of a conversation (any status), in the order they were asked for. */
  async approvals(conversationId: string, tenantId: string = DEFAULT_TENANT_ID): Promise<ConversationApprovalView[]> {
    const rows = await withReader(this.dataSource, (manager) =>
      whereActiveVersion(
        manager.getRepository(ConversationApprovalRecord).createQueryBuilder('ap').where('ap.tenantId = :tenantId AND ap.conversationId = :conversationId', { tenantId, conversationId }),
        manager,
        'ap',
        CONVERSATIONS_PROJECTION,
      )
        .orderBy('ap.requestedPosition', 'ASC')
        .getMany(),
    );
    return rows.map(toConversationApprovalView);
  }
}
