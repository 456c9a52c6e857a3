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

/** What an agent can find in its mailbox. More kinds (messages, tasks) join this union. */
export type MailboxInput = MailboxEventInput;

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
