import type { MessageSender } from '../agent/agent.commands';

/**
 * An agent's mailbox: the durable, ordered queue of its inputs. Stream `<tenant>/mailbox-<agentId>`.
 * The agent processes its inputs one at a time in stream order, so the stream order is the
 * processing order; the router appends domain events in global position order.
 */
export const MAILBOX_STREAM_CATEGORY = 'mailbox' as const;

/**
 * A stored domain event routed to the agent. The input refers to the stored event instead of
 * copying it: the event store is the one copy, the mailbox only says "this one, in this order".
 */
export interface MailboxEventInput {
  readonly kind: 'event';
  /** Stored event id of the routed event. */
  readonly ref: string;
  /** Its global position (lets a reader fetch it, or a batch of them, with `readAll`). */
  readonly position: number;
  readonly type: string;
  /** The CloudEvent subject, when the producer sent one. */
  readonly subject?: string;
}

/**
 * A person's message: posted in a conversation the agent takes part in, or sent to the agent
 * directly (`POST /agents/:id/messages`). The content is copied: messages are small.
 */
export interface MailboxMessageInput {
  readonly kind: 'message';
  /** The message id. */
  readonly ref: string;
  readonly from: MessageSender;
  readonly content: string;
  /** Set when the message was posted in a conversation: replies go there. */
  readonly conversationId?: string;
}

/** Another agent's message (`agent.message-sent`), or the timeout of a request this agent made. */
export interface MailboxAgentMessageInput {
  readonly kind: 'agent-message';
  /** The message id (for a timeout: the request's id). */
  readonly ref: string;
  /** The sending agent's id (for a timeout: the agent that did not answer). */
  readonly from: string;
  readonly content: string;
  /** How the sender addressed it: the recipient id, `kind:<kind>` or `tag:<tag>`. */
  readonly to: string;
  /** Set on a reply: the request it answers. */
  readonly inReplyTo?: string;
  /** Set on a request: reply by then (ISO-8601); a `reply` action answers the sender. */
  readonly replyDueAt?: string;
  /** True when this input says that the request `ref` got no reply in time. */
  readonly timedOut?: boolean;
}

/** Work handed to the agent by a trigger (`wake-agent`), with what made it fire. */
export interface MailboxTaskInput {
  readonly kind: 'task';
  /** The firing id. */
  readonly ref: string;
  readonly triggerId: string;
  readonly task: string;
  readonly context?: unknown;
}

/** What an agent can find in its mailbox. */
export type MailboxInput = MailboxEventInput | MailboxMessageInput | MailboxAgentMessageInput | MailboxTaskInput;

export type MailboxInputKind = MailboxInput['kind'];

export type MailboxInputEnqueued = {
  readonly type: 'mailbox.input-enqueued';
  readonly data: {
    readonly agentId: string;
    readonly input: MailboxInput;
    /** When the input was enqueued (ISO-8601). */
    readonly enqueuedAt: string;
  };
};

export type MailboxEvent = MailboxInputEnqueued;

export type MailboxEventType = MailboxEvent['type'];

export const MAILBOX_EVENT_TYPES = ['mailbox.input-enqueued'] as const satisfies readonly MailboxEventType[];
