import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonColumn, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/** Read model `conversations`: one row per conversation. */
@Entity({ name: 'rm_conversations' })
@Index('ix_rm_conversations_created', ['projectionVersion', 'tenantId', 'createdPosition'])
export class ConversationRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'conversation_id', type: 'text' })
  conversationId!: string;

  @Column({ name: 'title', type: 'text', nullable: true })
  title!: string | null;

  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: 'open' | 'closed';

  @Column(jsonColumn('agent_ids'))
  agentIds!: string[];

  /** The Actor who started it. */
  @Column(jsonColumn('started_by'))
  startedBy!: Record<string, unknown>;

  @Column({ name: 'message_count', type: 'integer' })
  messageCount!: number;

  @Column({ name: 'pending_approval_count', type: 'integer' })
  pendingApprovalCount!: number;

  @Column({ ...timestampColumn('closed_at'), nullable: true })
  closedAt!: string | null;

  @Column({ name: 'close_reason', type: 'text', nullable: true })
  closeReason!: string | null;

  /** Revision of the conversation's stream after its last event (ETag). */
  @Column({ name: 'revision', type: 'integer' })
  revision!: number;

  @Column(timestampColumn('created_at'))
  createdAt!: string;

  @Column(timestampColumn('updated_at'))
  updatedAt!: string;

  @Column(positionColumn('created_position'))
  createdPosition!: number;

  @Column(positionColumn('last_position'))
  lastPosition!: number;
}

/** Messages of a conversation (people's posts and agents' replies), ordered by position. */
@Entity({ name: 'rm_conversation_messages' })
export class ConversationMessageRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'conversation_id', type: 'text' })
  conversationId!: string;

  /** Global position of the event that recorded it: the order of the conversation. */
  @PrimaryColumn(positionColumn('position'))
  position!: number;

  @Column({ name: 'message_id', type: 'text' })
  messageId!: string;

  /** `message` (posted by a user or agent) or `reply` (an agent's recorded reply). */
  @Column({ name: 'kind', type: 'varchar', length: 16 })
  kind!: 'message' | 'reply';

  /** `{ kind: 'user' | 'agent', id }`. */
  @Column(jsonColumn('author'))
  author!: Record<string, unknown>;

  @Column({ name: 'content', type: 'text' })
  content!: string;

  @Column({ name: 'decision_id', type: 'text', nullable: true })
  decisionId!: string | null;

  @Column({ name: 'in_reply_to', type: 'text', nullable: true })
  inReplyTo!: string | null;

  @Column(timestampColumn('posted_at'))
  postedAt!: string;
}

/** Approvals asked for in a conversation: pending until resolved, expired or cancelled. */
@Entity({ name: 'rm_conversation_approvals' })
@Index('ix_rm_conversation_approvals_status', ['projectionVersion', 'tenantId', 'conversationId', 'status'])
export class ConversationApprovalRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'conversation_id', type: 'text' })
  conversationId!: string;

  @PrimaryColumn({ name: 'approval_id', type: 'text' })
  approvalId!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'decision_id', type: 'text' })
  decisionId!: string;

  /** The proposed action. */
  @Column({ ...jsonColumn('action'), nullable: true })
  action!: unknown;

  @Column({ name: 'reason', type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

  /** approve/reject: the person's, or the timeout policy's when expired. */
  @Column({ name: 'decision', type: 'varchar', length: 16, nullable: true })
  decision!: string | null;

  @Column({ name: 'comment', type: 'text', nullable: true })
  comment!: string | null;

  @Column({ ...jsonColumn('resolved_by'), nullable: true })
  resolvedBy!: Record<string, unknown> | null;

  @Column(timestampColumn('requested_at'))
  requestedAt!: string;

  @Column({ ...timestampColumn('expires_at'), nullable: true })
  expiresAt!: string | null;

  /** When it was resolved, expired or cancelled. */
  @Column({ ...timestampColumn('settled_at'), nullable: true })
  settledAt!: string | null;

  @Column(positionColumn('requested_position'))
  requestedPosition!: number;
}
