import {
  CLOUD_EVENT_METADATA_KEY,
  conversationDecider,
  DEFAULT_APPROVAL_POLICY,
  DomainError,
  parseIsoDuration,
  streamName,
  type ActionOutcome,
  type AgentAction,
  type AppendRequest,
  type CloudEventEnvelope,
  type ConversationCommand,
  type ConversationEvent,
  type DefinedAgentState,
  type DirectAgentAction,
  type EventMetadata,
  type EventStore,
  type MailboxInput,
  type NewEvent,
} from '@meridian/domain';
import { DeciderCommandExecutor } from '../aggregates/decider-command.executor';
import { ingestionStreamName, storedEventId } from '../ingestion/ingest-events.service';
import { actionKey, actionOutputId, approvalsConversationId, runtimeEventId } from './runtime-ids';
import type { WebhookClient } from './webhook-client.port';

/** The decision an action belongs to, as recorded. */
export interface RecordedDecisionContext {
  readonly tenantId: string;
  readonly agent: DefinedAgentState;
  readonly decisionId: string;
  /** Event id of `agent.decision-recorded`: the cause of everything the actions write. */
  readonly decisionEventId: string;
  readonly correlationId: string;
  /** Hop of what the decision causes. */
  readonly hop: number;
  /** The mailbox input the decision answered (the last one, when several were decided together). */
  readonly input: MailboxInput;
  readonly now: () => Date;
}

/**
 * What running an action amounts to: either its outcome, to record together with `requests` (the
 * writes that ARE the action, for actions inside Meridian) in one atomic commit; or `pending` for a
 * proposal, whose outcome is recorded once a person (or the timeout) has decided.
 */
export type ActionStep =
  | { readonly kind: 'settle'; readonly outcome: ActionOutcome; readonly requests: readonly AppendRequest[] }
  | { readonly kind: 'pending'; readonly requests: readonly AppendRequest[] };

const failed = (code: string, message: string): ActionStep => ({ kind: 'settle', outcome: { status: 'failed', error: { code, message } }, requests: [] });

/**
 * Turns a recorded action into its effect. Actions inside Meridian (reply, send-message,
 * emit-event, remember, propose) become event-store writes with ids derived from
 * `(decisionId, index)`, committed in the same append as the action's `agent.action-executed`: they
 * happen exactly once. `call-webhook` leaves the process: it is called before its outcome is
 * recorded, with `Idempotency-Key: <decisionId>:<index>` on every attempt, so a crash between the
 * call and the record repeats the call with the same key (at-least-once, deduplicated by a
 * receiver that honours the key).
 */
export class ActionExecutor {
  private readonly aggregates: DeciderCommandExecutor;

  constructor(
    private readonly store: EventStore,
    private readonly webhooks: WebhookClient,
  ) {
    this.aggregates = new DeciderCommandExecutor(store);
  }

  metadataFor(decision: RecordedDecisionContext): EventMetadata {
    return {
      occurredAt: decision.now().toISOString(),
      correlationId: decision.correlationId,
      causationId: decision.decisionEventId,
      hop: decision.hop,
      tenantId: decision.tenantId,
      actor: { kind: 'agent', id: decision.agent.id },
    };
  }

  async plan(decision: RecordedDecisionContext, index: number, action: AgentAction, signal?: AbortSignal): Promise<ActionStep> {
    if (action.action === 'propose') return this.propose(decision, index, action.proposed, action.reason);
    return this.direct(decision, index, action, signal);
  }

  /** Runs a proposal's action once approved; the outcome wraps the inner one. */
  async approved(decision: RecordedDecisionContext, index: number, proposed: DirectAgentAction, approvalId: string, signal?: AbortSignal): Promise<ActionStep> {
    const inner = await this.direct(decision, index, proposed, signal);
    if (inner.kind !== 'settle') return inner;
    if (inner.outcome.status === 'failed') return inner;
    return {
      kind: 'settle',
      outcome: { status: 'succeeded', result: { approval: 'approve', approvalId, proposed: proposed.action, ...(inner.outcome.result !== undefined && { result: inner.outcome.result }) } },
      requests: inner.requests,
    };
  }

  rejected(approvalId: string, proposed: DirectAgentAction, how: 'rejected' | 'expired' | 'cancelled' | 'agent-retired'): ActionStep {
    return { kind: 'settle', outcome: { status: 'succeeded', result: { approval: 'reject', approvalId, proposed: proposed.action, how } }, requests: [] };
  }

  private async direct(decision: RecordedDecisionContext, index: number, action: DirectAgentAction, signal?: AbortSignal): Promise<ActionStep> {
    switch (action.action) {
      case 'reply':
        return this.reply(decision, index, action.text);
      case 'send-message':
        return this.sendMessage(decision, index, action.to, action.content, action.replyWithin);
      case 'emit-event':
        return this.emitEvent(decision, index, action.eventType, action.subject, action.data);
      case 'remember':
        return { kind: 'settle', outcome: { status: 'succeeded', result: { key: action.key, value: action.value } }, requests: [] };
      case 'call-webhook': {
        const result = await this.webhooks.call({
          url: action.url,
          method: action.method ?? 'POST',
          ...(action.body !== undefined && { body: action.body }),
          idempotencyKey: actionKey(decision.decisionId, index),
          ...(signal !== undefined && { signal }),
        });
        if (result.ok) return { kind: 'settle', outcome: { status: 'succeeded', result: { status: result.status, attempts: result.attempts } }, requests: [] };
        return failed('WEBHOOK_FAILED', `${action.method ?? 'POST'} ${action.url} failed after ${result.attempts} attempt(s): ${result.message}`);
      }
      default: {
        const unknownAction: never = action;
        return failed('UNKNOWN_ACTION', `Unknown action ${JSON.stringify(unknownAction)}`);
      }
    }
  }

  /**
   * A reply answers where the input came from: in its conversation (stored and streamed there), or
   * to the agent whose message it was (an `agent.message-sent` back, marked as the reply). An input
   * with nowhere to answer (a domain event, a task, a direct message) keeps the text in the ledger.
   */
  private async reply(decision: RecordedDecisionContext, index: number, text: string): Promise<ActionStep> {
    const messageId = actionOutputId(decision.decisionId, index);
    const input = decision.input;
    if (input.kind === 'message' && input.conversationId !== undefined) {
      const step = await this.conversationWrite(decision, index, input.conversationId, {
        type: 'RecordReply',
        data: { conversationId: input.conversationId, messageId, agentId: decision.agent.id, content: text, decisionId: decision.decisionId, inReplyTo: input.ref },
      });
      if (step instanceof DomainError) return failed(step.code, step.message);
      return { kind: 'settle', outcome: { status: 'succeeded', result: { conversationId: input.conversationId, messageId } }, requests: step };
    }
    if (input.kind === 'agent-message' && input.timedOut !== true) {
      const message = { messageId, to: input.from, content: text, inReplyTo: input.ref };
      return { kind: 'settle', outcome: { status: 'succeeded', result: { message } }, requests: [] };
    }
    return { kind: 'settle', outcome: { status: 'succeeded', result: { delivered: false, text } }, requests: [] };
  }

  private async sendMessage(decision: RecordedDecisionContext, index: number, to: string, content: string, replyWithin: string | undefined): Promise<ActionStep> {
    const broadcast = to.startsWith('kind:') || to.startsWith('tag:');
    if (!broadcast) {
      if (to === decision.agent.id) return failed('RECIPIENT_INVALID', 'An agent cannot send a message to itself');
      const revision = await this.store.streamRevision(streamName('agent', to, decision.tenantId));
      if (revision === null) return failed('RECIPIENT_NOT_FOUND', `Agent ${to} does not exist`);
    }
    let replyDueAt: string | undefined;
    if (replyWithin !== undefined) {
      try {
        replyDueAt = new Date(decision.now().getTime() + parseIsoDuration(replyWithin, 'replyWithin')).toISOString();
      } catch (error: unknown) {
        return failed('VALIDATION_FAILED', error instanceof Error ? error.message : String(error));
      }
    }
    const messageId = actionOutputId(decision.decisionId, index);
    return {
      kind: 'settle',
      outcome: { status: 'succeeded', result: { messageId, to, content, ...(replyDueAt !== undefined && { replyDueAt }) } },
      requests: [],
    };
  }

  /** A new domain event caused by the decision, stored like an ingested one (so agents can subscribe to it). */
  private emitEvent(decision: RecordedDecisionContext, index: number, type: string, subject: string | undefined, data: unknown): ActionStep {
    const id = actionOutputId(decision.decisionId, index);
    const source = `meridian://agents/${decision.agent.id}`;
    const metadata = this.metadataFor(decision);
    const envelope: CloudEventEnvelope = {
      id,
      source,
      specversion: '1.0',
      subject: subject ?? null,
      time: metadata.occurredAt,
      datacontenttype: 'application/json',
      dataschema: null,
      extensions: {},
    };
    const eventId = storedEventId(decision.tenantId, source, id);
    const event: NewEvent = { eventId, type, data: data ?? null, metadata: { ...metadata, [CLOUD_EVENT_METADATA_KEY]: envelope } };
    const stream = ingestionStreamName({ subject, source }, decision.tenantId);
    return {
      kind: 'settle',
      outcome: { status: 'succeeded', result: { eventId, id, source, type, ...(subject !== undefined && { subject }) } },
      requests: [{ streamName: stream, events: [event], expected: 'any' }],
    };
  }

  /**
   * Asks for approval in the input's conversation, or in the agent's own approvals conversation
   * (started on first use) when the input came from elsewhere. The approval id is derived from
   * (decisionId, index): asking again after a restart is a no-op.
   */
  private async propose(decision: RecordedDecisionContext, index: number, proposed: DirectAgentAction, reason: string | undefined): Promise<ActionStep> {
    const input = decision.input;
    const conversationId = input.kind === 'message' && input.conversationId !== undefined ? input.conversationId : approvalsConversationId(decision.agent.id);
    const requests: AppendRequest[] = [];
    const policy = decision.agent.definition.approvals ?? DEFAULT_APPROVAL_POLICY;
    const now = decision.now();
    const expiresAt = new Date(now.getTime() + parseIsoDuration(policy.timeout, 'approvals.timeout')).toISOString();
    const approvalId = actionOutputId(decision.decisionId, index);
    const command: ConversationCommand = {
      type: 'RequestApproval',
      data: {
        conversationId,
        approvalId,
        agentId: decision.agent.id,
        decisionId: decision.decisionId,
        action: { index, proposed, onTimeout: policy.onTimeout },
        ...(reason !== undefined && { reason }),
        expiresAt,
      },
    };
    const conversation = await this.aggregates.load(conversationDecider, streamName('conversation', conversationId, decision.tenantId));
    let state = conversation.state;
    let revision = conversation.revision;
    const events: ConversationEvent[] = [];
    const context = { now: now.toISOString(), actor: { kind: 'agent' as const, id: decision.agent.id }, tenantId: decision.tenantId, correlationId: decision.correlationId, newId: () => approvalId };
    try {
      if (state === null) {
        const started = conversationDecider.decide(
          { type: 'StartConversation', data: { conversationId, agentIds: [decision.agent.id], title: `${decision.agent.definition.name} approvals` } },
          state,
          context,
        );
        events.push(...started);
        state = started.reduce(conversationDecider.evolve, state);
      }
      events.push(...conversationDecider.decide(command, state, context));
    } catch (error: unknown) {
      if (error instanceof DomainError) return failed(error.code, error.message);
      throw error;
    }
    if (events.length > 0) {
      requests.push(this.conversationRequest(decision, index, conversationId, events, revision));
      revision += events.length;
    }
    return { kind: 'pending', requests };
  }

  /** Decides a command on a conversation and returns the write, or the domain error that refused it. */
  private async conversationWrite(decision: RecordedDecisionContext, index: number, conversationId: string, command: ConversationCommand): Promise<AppendRequest[] | DomainError> {
    const stream = streamName('conversation', conversationId, decision.tenantId);
    const { state, revision } = await this.aggregates.load(conversationDecider, stream);
    const context = {
      now: decision.now().toISOString(),
      actor: { kind: 'agent' as const, id: decision.agent.id },
      tenantId: decision.tenantId,
      correlationId: decision.correlationId,
      newId: () => actionOutputId(decision.decisionId, index),
    };
    let events: ConversationEvent[];
    try {
      events = conversationDecider.decide(command, state, context);
    } catch (error: unknown) {
      if (error instanceof DomainError) return error;
      throw error;
    }
    return events.length === 0 ? [] : [this.conversationRequest(decision, index, conversationId, events, revision)];
  }

  private conversationRequest(decision: RecordedDecisionContext, index: number, conversationId: string, events: readonly ConversationEvent[], revision: number): AppendRequest {
    const metadata = this.metadataFor(decision);
    // A proposal and, once approved, the action it wraps may both write to the same conversation
    // under one (decisionId, index): the first event's type keeps their ids apart.
    const step = `conversation\n${decision.decisionId}\n${index}\n${events[0]?.type ?? ''}`;
    return {
      streamName: streamName('conversation', conversationId, decision.tenantId),
      events: events.map((event, n) => ({ eventId: runtimeEventId(step, n), type: event.type, data: event.data, metadata })),
      expected: revision < 0 ? 'no_stream' : revision,
    };
  }
}
