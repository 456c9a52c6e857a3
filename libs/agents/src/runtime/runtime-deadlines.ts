import {
  conversationDecider,
  DomainError,
  parseStreamName,
  streamName,
  type AgentMessageSent,
  type ApprovalDecision,
  type ConversationApprovalRequested,
  type EventMetadata,
  type EventStore,
  type MailboxAgentMessageInput,
  type MailboxInputEnqueued,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';
import { DeciderCommandExecutor } from '../aggregates/decider-command.executor';
import { mailboxEntryId } from './agent-router';
import { SILENT_RUNTIME_LOGGER, type RuntimeLogger } from './runtime-logger.port';

export interface RuntimeDeadlinesOptions {
  readonly store: EventStore;
  readonly now?: () => Date;
  readonly logger?: RuntimeLogger;
  /** How often due deadlines are looked for. Default 500 ms; 0 disables the timer (call `tick`). */
  readonly intervalMs?: number;
}

interface ApprovalDeadline {
  readonly tenantId: string;
  readonly conversationId: string;
  readonly approvalId: string;
  readonly dueAt: number;
  readonly onTimeout: ApprovalDecision;
}

interface RequestDeadline {
  readonly tenantId: string;
  readonly requestId: string;
  readonly senderId: string;
  readonly to: string;
  readonly dueAt: number;
  readonly eventId: string;
  readonly metadata: EventMetadata;
}

const DEADLINE_TYPES = [
  'conversation.approval-requested',
  'conversation.approval-resolved',
  'conversation.approval-expired',
  'conversation.closed',
  'agent.message-sent',
] as const;

const PAGE = 1_000;
export const DEADLINES_ACTOR = { kind: 'system', id: 'deadlines' } as const;

/**
 * Timers of the runtime, kept in the store rather than in memory: a proposal waiting for approval
 * expires at its `expiresAt` (decided by the agent's timeout policy), and a request sent with
 * `replyWithin` that gets no reply in time wakes its sender with a `timedOut` input.
 *
 * On start the open deadlines are read back from the store, so a restart that spans a deadline
 * fires it (late, once): expiring an approval is decided by the conversation aggregate (a second
 * expiry is refused), and the timeout input has a deterministic id (a second one is a no-op).
 */
export class RuntimeDeadlines {
  private readonly approvals = new Map<string, ApprovalDeadline>();
  private readonly requests = new Map<string, RequestDeadline>();
  private readonly aggregates: DeciderCommandExecutor;
  private readonly now: () => Date;
  private readonly logger: RuntimeLogger;
  private subscription: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;

  constructor(private readonly options: RuntimeDeadlinesOptions) {
    this.aggregates = new DeciderCommandExecutor(options.store);
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger ?? SILENT_RUNTIME_LOGGER;
  }

  get pendingApprovals(): number {
    return this.approvals.size;
  }

  get pendingRequests(): number {
    return this.requests.size;
  }

  async start(): Promise<void> {
    if (this.subscription !== null) return;
    // Read everything up to the head, then follow from exactly there: no gap, no double.
    const head = await this.options.store.headPosition();
    let after = 0;
    for (;;) {
      const page = await this.options.store.readAll({ after, limit: PAGE, filter: { types: DEADLINE_TYPES } });
      for (const event of page) if (event.position <= head) this.apply(event);
      if (page.length < PAGE || page[page.length - 1].position >= head) break;
      after = page[page.length - 1].position;
    }
    this.subscription = this.options.store.subscribe(
      { onEvents: (events) => events.forEach((event) => this.apply(event)), onError: (error) => this.logger.error({ err: error }, 'deadline subscription failed; retrying') },
      { after: head, filter: { types: DEADLINE_TYPES } },
    );
    const interval = this.options.intervalMs ?? 500;
    if (interval > 0) {
      this.timer = setInterval(() => void this.tick(), interval);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription !== null) await subscription.stop();
    await this.ticking;
  }

  /** Fires every deadline that is due now. */
  tick(): Promise<void> {
    this.ticking ??= this.fireDue().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private apply(event: RecordedEvent): void {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null) return;
    const { tenantId } = parsed;
    switch (event.type) {
      case 'conversation.approval-requested': {
        if (parsed.category !== 'conversation') return;
        const data = event.data as ConversationApprovalRequested['data'];
        if (data.expiresAt === undefined) return;
        const action = data.action as { onTimeout?: unknown } | null;
        const onTimeout: ApprovalDecision = action !== null && typeof action === 'object' && action.onTimeout === 'approve' ? 'approve' : 'reject';
        this.approvals.set(`${tenantId}\n${data.approvalId}`, {
          tenantId,
          conversationId: data.conversationId,
          approvalId: data.approvalId,
          dueAt: Date.parse(data.expiresAt),
          onTimeout,
        });
        return;
      }
      case 'conversation.approval-resolved':
      case 'conversation.approval-expired':
        this.approvals.delete(`${tenantId}\n${(event.data as { approvalId: string }).approvalId}`);
        return;
      case 'conversation.closed':
        for (const approvalId of (event.data as { cancelledApprovalIds?: string[] }).cancelledApprovalIds ?? []) this.approvals.delete(`${tenantId}\n${approvalId}`);
        return;
      case 'agent.message-sent': {
        if (parsed.category !== 'agent') return;
        const data = event.data as AgentMessageSent['data'];
        if (data.inReplyTo !== undefined) this.requests.delete(`${tenantId}\n${data.inReplyTo}`);
        if (data.replyDueAt !== undefined) {
          this.requests.set(`${tenantId}\n${data.messageId}`, {
            tenantId,
            requestId: data.messageId,
            senderId: parsed.id,
            to: data.to,
            dueAt: Date.parse(data.replyDueAt),
            eventId: event.eventId,
            metadata: event.metadata,
          });
        }
        return;
      }
      default:
        return;
    }
  }

  private async fireDue(): Promise<void> {
    const now = this.now().getTime();
    for (const [key, deadline] of [...this.approvals]) {
      if (deadline.dueAt > now) continue;
      try {
        await this.aggregates.execute({
          decider: conversationDecider,
          streamName: streamName('conversation', deadline.conversationId, deadline.tenantId),
          command: { type: 'ExpireApproval', data: { conversationId: deadline.conversationId, approvalId: deadline.approvalId, decision: deadline.onTimeout } },
          context: { now: new Date(now).toISOString(), actor: DEADLINES_ACTOR, tenantId: deadline.tenantId, correlationId: deadline.approvalId, newId: () => deadline.approvalId },
        });
        this.approvals.delete(key);
      } catch (error: unknown) {
        // Already resolved, expired or closed: the deadline has nothing left to decide.
        if (error instanceof DomainError) this.approvals.delete(key);
        else this.logger.warn({ err: error, approvalId: deadline.approvalId }, 'approval expiry failed; retrying');
      }
    }
    for (const [key, deadline] of [...this.requests]) {
      if (deadline.dueAt > now) continue;
      const input: MailboxAgentMessageInput = {
        kind: 'agent-message',
        ref: deadline.requestId,
        from: deadline.to,
        to: deadline.senderId,
        content: `No reply to request ${deadline.requestId} from ${deadline.to} in time`,
        timedOut: true,
      };
      const at = new Date(now).toISOString();
      const enqueued: MailboxInputEnqueued = { type: 'mailbox.input-enqueued', data: { agentId: deadline.senderId, input, enqueuedAt: at } };
      try {
        await this.options.store.appendMany([
          {
            streamName: streamName('mailbox', deadline.senderId, deadline.tenantId),
            events: [
              {
                eventId: mailboxEntryId(deadline.senderId, `timeout\n${deadline.requestId}`),
                type: enqueued.type,
                data: enqueued.data,
                metadata: {
                  occurredAt: at,
                  correlationId: deadline.metadata.correlationId,
                  causationId: deadline.eventId,
                  hop: deadline.metadata.hop,
                  tenantId: deadline.tenantId,
                  actor: DEADLINES_ACTOR,
                },
              },
            ],
            expected: 'any',
          },
        ]);
        this.requests.delete(key);
      } catch (error: unknown) {
        this.logger.warn({ err: error, requestId: deadline.requestId }, 'request timeout not delivered; retrying');
      }
    }
  }
}
