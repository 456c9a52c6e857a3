import { v5 as uuidv5 } from 'uuid';
import {
  parseStreamName,
  streamName,
  type Actor,
  type AgentEvent,
  type AgentMessageReceived,
  type AgentResumed,
  type AgentMessageSent,
  type AgentSubscription,
  type ConversationMessagePosted,
  type ConversationStarted,
  type MailboxAgentMessageInput,
  type MailboxInput,
  type MailboxMessageInput,
  type AppendRequest,
  type EventMetadata,
  type EventStore,
  type GlobalPosition,
  type MailboxEventInput,
  type MailboxInputEnqueued,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';
import { cloudEventViewOf, type CloudEventView } from '../routing/cloud-event-view';
import { SubscriptionIndex, type SubscriptionErrorHandler } from '../routing/subscription-matcher';
import { planTriggerAction } from '../triggers/trigger-actions';
import type { CheckpointStore } from './checkpoint-store.port';

/** Namespace for mailbox entry ids: uuid v5 of (agent id, routed event id). */
const MAILBOX_ENTRY_NAMESPACE = '3d7f4a52-9c1e-5b08-8e6a-1f2b3c4d5e6f';

export const AGENT_ROUTER_ACTOR: Actor = { kind: 'system', id: 'router' };
export const DEFAULT_AGENT_ROUTER_CHECKPOINT = 'agent-router';

/** Agent events that decide whether, and for which events, an agent gets inputs. */
const LIFECYCLE_TYPES = ['agent.defined', 'agent.reconfigured', 'agent.paused', 'agent.resumed', 'agent.retired'] as const;
type LifecycleEvent = Extract<AgentEvent, { type: (typeof LIFECYCLE_TYPES)[number] }>;

/** Streams holding ingested domain events: the only events routed to mailboxes. */
const ROUTED_CATEGORIES = new Set(['entity', 'source']);

/** Reading lifecycle history on start, page by page. */
const REBUILD_PAGE_SIZE = 1000;

/**
 * The id of the mailbox entry that enqueues `routedEventId` for `agentId`. Deterministic, so routing
 * the same event again (re-delivery, restart from an older checkpoint) appends nothing.
 */
export function mailboxEntryId(agentId: string, routedEventId: string): string {
  return uuidv5(`${agentId}\n${routedEventId}`, MAILBOX_ENTRY_NAMESPACE);
}

export interface AgentRouterOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** Name of the checkpoint. Default `agent-router`. */
  readonly checkpointName?: string;
  /** Events per delivered batch; the mailbox appends of one batch are one group commit. */
  readonly batchSize?: number;
  /** Clock for `enqueuedAt` / `occurredAt` (ISO-8601). */
  readonly now?: () => string;
  /** Store, append and checkpoint failures (the batch is retried by the subscription). */
  readonly onError?: (error: unknown) => void;
  /** Subscription filters that cannot be compiled or evaluated (the subscription then does not match). */
  readonly onFilterError?: SubscriptionErrorHandler;
}

type AgentStatus = 'active' | 'paused' | 'retired';

interface AgentRecord {
  readonly subscriptions: readonly AgentSubscription[];
  readonly status: AgentStatus;
  /** Global position of the pause in force (for a resume that replays what was missed). */
  readonly pausedAt?: number;
  readonly kind?: string;
  readonly tags?: readonly string[];
}

/** One tenant's agents: their lifecycle, and the index of the active ones; conversations' participants. */
interface TenantRouting {
  readonly agents: Map<string, AgentRecord>;
  readonly index: SubscriptionIndex;
  readonly conversations: Map<string, readonly string[]>;
}

/** Each agent's record before the batch first changed it, to undo a batch whose appends failed. */
type UndoLog = Map<string, { readonly tenantId: string; readonly agentId: string; readonly before: AgentRecord | undefined }>;

interface Waiter {
  readonly position: GlobalPosition;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Read back on start with the lifecycle: who takes part in which conversation. */
const REBUILD_TYPES = [...LIFECYCLE_TYPES, 'conversation.started', 'conversation.closed'] as const;

function isLifecycleEvent(event: RecordedEvent): event is RecordedEvent & LifecycleEvent {
  return (LIFECYCLE_TYPES as readonly string[]).includes(event.type);
}

/**
 * Routes ingested domain events to the durable mailboxes of the agents that subscribe to them, and
 * carries out triggers' firings (`trigger.fired`: see triggers/trigger-actions.ts).
 *
 * One store subscription over everything after the checkpoint, in global order. Agent lifecycle
 * events (in `<tenant>/agent-<id>` streams) keep a per-tenant `SubscriptionIndex` of the ACTIVE
 * agents: defined/reconfigured set the subscriptions, paused/retired stop routing, resumed routes
 * again from the next event on (what came in while paused is not replayed). Because lifecycle and
 * domain events come through the same ordered subscription, every event is routed against the
 * agents exactly as they were at its position.
 *
 * Each ingested event (`entity-`/`source-` streams) becomes one `mailbox.input-enqueued` per
 * matching active agent of the same tenant, appended to `<tenant>/mailbox-<agentId>` with the id
 * `mailboxEntryId(agentId, eventId)` and expected revision `any`. Delivery is at least once; the
 * store's idempotency by (stream, eventId) turns a second routing of the same event into a no-op,
 * so every input is enqueued exactly once. The appends of one delivered batch are one `appendMany`
 * (one request per entry, so a half-stored batch replays cleanly), in event order: a mailbox
 * receives its inputs in global position order.
 *
 * The checkpoint is saved after each batch and may lag behind what was appended: a restart only
 * re-routes, which enqueues nothing twice. On start the lifecycle history up to the checkpoint is
 * read back (agent lifecycle events only) to know which agents were active there.
 */
export class AgentRouter {
  private readonly tenants = new Map<string, TenantRouting>();
  private readonly waiters: Waiter[] = [];
  private readonly checkpointName: string;
  private readonly now: () => string;
  private subscription: Subscription | null = null;
  private starting: Promise<void> | null = null;
  private processed: GlobalPosition = 0;

  constructor(private readonly options: AgentRouterOptions) {
    this.checkpointName = options.checkpointName ?? DEFAULT_AGENT_ROUTER_CHECKPOINT;
    this.now = options.now ?? (() => new Date().toISOString());
  }

  /** Global position up to which every event has been routed (and its inputs appended). */
  get position(): GlobalPosition {
    return this.processed;
  }

  get running(): boolean {
    return this.subscription !== null;
  }

  /** Loads the checkpoint, rebuilds the agents' state at it, then subscribes. Starting twice is a no-op. */
  start(): Promise<void> {
    this.starting ??= this.doStart().catch((error: unknown) => {
      this.starting = null;
      throw error;
    });
    return this.starting;
  }

  /** Stops routing once the batch in hand is done; callers still waiting are rejected. */
  async stop(): Promise<void> {
    const starting = this.starting;
    if (starting !== null) {
      await starting.catch(() => undefined);
      const subscription = this.subscription;
      this.subscription = null;
      this.starting = null;
      if (subscription !== null) await subscription.stop();
    }
    const pending = this.waiters.splice(0);
    for (const waiter of pending) waiter.reject(new Error(`AgentRouter stopped before reaching position ${waiter.position}`));
  }

  /**
   * Resolves once every event up to `position` has been routed (its mailbox inputs are stored):
   * read-your-writes for "append, then read the mailbox". Rejected if the router is not started
   * (it would never get there) or stops first.
   */
  waitUntilProcessed(position: GlobalPosition): Promise<void> {
    if (this.processed >= position) return Promise.resolve();
    if (this.starting === null) return Promise.reject(new Error(`AgentRouter is not running: position ${position} is not reached`));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ position, resolve, reject });
    });
  }

  private async doStart(): Promise<void> {
    const checkpoint = await this.options.checkpoints.load(this.checkpointName);
    this.tenants.clear();
    await this.rebuildUpTo(checkpoint);
    this.processed = checkpoint;
    this.subscription = this.options.store.subscribe(
      {
        onEvents: (events) => this.handleBatch(events),
        onCaughtUp: (position) => this.advanceTo(position),
        onError: (error) => this.report(error),
      },
      { after: checkpoint, batchSize: this.options.batchSize },
    );
  }

  /** Replays lifecycle events at or below `checkpoint`, so routing resumes with the agents as they were there. */
  private async rebuildUpTo(checkpoint: GlobalPosition): Promise<void> {
    let after = 0;
    while (after < checkpoint) {
      const page = await this.options.store.readAll({ after, limit: REBUILD_PAGE_SIZE, filter: { types: REBUILD_TYPES } });
      for (const event of page) {
        if (event.position > checkpoint) return;
        this.applyIfLifecycle(event, undefined);
        this.applyIfConversationStarted(event);
      }
      if (page.length < REBUILD_PAGE_SIZE) return;
      after = page[page.length - 1].position;
    }
  }

  private async handleBatch(events: readonly RecordedEvent[]): Promise<void> {
    // At-least-once: an event already routed in this run must not move the lifecycle state back.
    const fresh = events.filter((event) => event.position > this.processed);
    if (fresh.length === 0) return;
    const undo: UndoLog = new Map();
    const requests: AppendRequest[] = [];
    try {
      for (const event of fresh) await this.routeOne(event, undo, requests);
      if (requests.length > 0) await this.options.store.appendMany(requests);
    } catch (error) {
      // Any failure — a read while routing, or the appends — retries the whole batch: start it
      // again from the agents' state before it.
      for (const { tenantId, agentId, before } of undo.values()) this.restore(tenantId, agentId, before);
      throw error;
    }
    this.advanceTo(fresh[fresh.length - 1].position);
    try {
      await this.options.checkpoints.save(this.checkpointName, this.processed);
    } catch (error) {
      // The inputs are stored; a lagging checkpoint only means re-routing (a no-op) after a restart.
      this.report(error);
    }
  }

  private async routeOne(event: RecordedEvent, undo: UndoLog, requests: AppendRequest[]): Promise<void> {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null) return;
    if (parsed.category === 'agent') {
      const pausedAt = event.type === 'agent.resumed' ? this.tenantOf(parsed.tenantId).agents.get(parsed.id)?.pausedAt : undefined;
      this.applyIfLifecycle(event, undo);
      if (event.type === 'agent.resumed' && (event.data as AgentResumed['data']).replayMissed === true && pausedAt !== undefined) {
        await this.replayMissed(parsed.tenantId, parsed.id, pausedAt, event.position, requests);
      }
      if (event.type === 'agent.message-received') this.routeReceivedMessage(event, parsed.tenantId, parsed.id, requests);
      else if (event.type === 'agent.message-sent') this.routeSentMessage(event, parsed.tenantId, parsed.id, requests);
    } else if (parsed.category === 'conversation') {
      this.applyIfConversationStarted(event);
      if (event.type === 'conversation.message-posted') this.routeConversationMessage(event, parsed.tenantId, parsed.id, requests);
    } else if (parsed.category === 'trigger') {
      if (event.type === 'trigger.fired') await this.routeFiring(event, parsed.tenantId, requests);
    } else if (ROUTED_CATEGORIES.has(parsed.category)) this.route(event, parsed.tenantId, requests);
  }

  private route(event: RecordedEvent, tenantId: string, requests: AppendRequest[]): void {
    const tenant = this.tenants.get(tenantId);
    if (tenant === undefined) return;
    const view = cloudEventViewOf(event);
    if (view === undefined) return;
    const agentIds = tenant.index.matchView(view);
    if (agentIds.length === 0) return;
    const input = eventInput(event, view);
    for (const agentId of agentIds) this.enqueue(event, tenantId, agentId, input, requests);
  }

  /**
   * Routes to a resumed agent the ingested events its subscriptions matched between its pause and
   * its resume, in order, as they would have been routed then. Mailbox entry ids are the same as
   * live routing's, so an event that did reach the agent (or a replay after a restart) is not
   * enqueued twice.
   */
  private async replayMissed(tenantId: string, agentId: string, from: number, to: number, requests: AppendRequest[]): Promise<void> {
    const record = this.tenantOf(tenantId).agents.get(agentId);
    if (record === undefined) return;
    const index = new SubscriptionIndex({ onError: this.options.onFilterError });
    index.set(agentId, record.subscriptions);
    const prefixes = [...ROUTED_CATEGORIES].map((category) => `${tenantId}/${category}-`);
    for (let after = from; after < to; ) {
      const page = await this.options.store.readAll({ after, limit: REBUILD_PAGE_SIZE, filter: { streamPrefixes: prefixes } });
      for (const event of page) {
        if (event.position >= to) return;
        const view = cloudEventViewOf(event);
        if (view === undefined || index.matchView(view).length === 0) continue;
        this.enqueue(event, tenantId, agentId, eventInput(event, view), requests);
      }
      if (page.length < REBUILD_PAGE_SIZE) return;
      after = page[page.length - 1].position;
    }
  }

  /**
   * A trigger's firing: its action (a task for the trigger's agent, a message to another agent, or
   * an event to store), in the firing's chain, with ids derived from the firing.
   */
  private async routeFiring(event: RecordedEvent, tenantId: string, requests: AppendRequest[]): Promise<void> {
    const plan = await planTriggerAction(this.options.store, tenantId, event, (message) =>
      this.report(new Error(`trigger firing ${event.eventId}: template not rendered (${message})`)),
    );
    for (const { agentId, input } of plan.inputs) this.enqueue(event, tenantId, agentId, input, requests);
    requests.push(...plan.appends);
  }

  /** Participants of open conversations (a closed one takes no more messages: it is forgotten). */
  private applyIfConversationStarted(event: RecordedEvent): void {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null || parsed.category !== 'conversation') return;
    if (event.type === 'conversation.closed') {
      this.tenantOf(parsed.tenantId).conversations.delete(parsed.id);
      return;
    }
    if (event.type !== 'conversation.started') return;
    const data = event.data as ConversationStarted['data'];
    this.tenantOf(parsed.tenantId).conversations.set(parsed.id, [...data.agentIds]);
  }

  /** A person's message in a conversation reaches every participating agent that is not retired. */
  private routeConversationMessage(event: RecordedEvent, tenantId: string, conversationId: string, requests: AppendRequest[]): void {
    const data = event.data as ConversationMessagePosted['data'];
    // Agents' own contributions are not inputs: an agent replying would otherwise wake the others endlessly.
    if (data.author.kind !== 'user') return;
    const tenant = this.tenantOf(tenantId);
    const input: MailboxMessageInput = { kind: 'message', ref: data.messageId, from: { kind: 'user', id: data.author.id }, content: data.content, conversationId };
    for (const agentId of tenant.conversations.get(conversationId) ?? []) this.enqueue(event, tenantId, agentId, input, requests);
  }

  /** A message sent to the agent directly (HTTP, or the system). */
  private routeReceivedMessage(event: RecordedEvent, tenantId: string, agentId: string, requests: AppendRequest[]): void {
    const data = event.data as AgentMessageReceived['data'];
    const input: MailboxInput =
      data.from.kind === 'agent'
        ? { kind: 'agent-message', ref: data.messageId, from: data.from.id, to: agentId, content: data.content }
        : { kind: 'message', ref: data.messageId, from: data.from, content: data.content };
    this.enqueue(event, tenantId, agentId, input, requests);
  }

  /** Another agent's message: to one agent, or broadcast to every agent of a kind or with a tag. */
  private routeSentMessage(event: RecordedEvent, tenantId: string, senderId: string, requests: AppendRequest[]): void {
    const data = event.data as AgentMessageSent['data'];
    const tenant = this.tenantOf(tenantId);
    let recipients: string[];
    if (data.to.startsWith('kind:') || data.to.startsWith('tag:')) {
      const [by, value] = [data.to.slice(0, data.to.indexOf(':')), data.to.slice(data.to.indexOf(':') + 1)];
      recipients = [...tenant.agents.entries()]
        .filter(([id, record]) => id !== senderId && record.status === 'active' && (by === 'kind' ? record.kind === value : (record.tags ?? []).includes(value)))
        .map(([id]) => id)
        .sort();
    } else recipients = [data.to];
    const input: MailboxAgentMessageInput = {
      kind: 'agent-message',
      ref: data.messageId,
      from: senderId,
      to: data.to,
      content: data.content,
      ...(data.inReplyTo !== undefined && { inReplyTo: data.inReplyTo }),
      ...(data.replyDueAt !== undefined && { replyDueAt: data.replyDueAt }),
    };
    for (const agentId of recipients) this.enqueue(event, tenantId, agentId, input, requests);
  }

  /**
   * Appends `input` to the agent's mailbox, in the chain of `event`, with the entry id derived from
   * both (routing again is a no-op). A retired agent gets nothing. Messages wait in the mailbox of a
   * paused agent (it decides on them once resumed); domain events never reach one, because only
   * active agents are in the subscription index.
   */
  private enqueue(event: RecordedEvent, tenantId: string, agentId: string, input: MailboxInput, requests: AppendRequest[]): void {
    const record = this.tenantOf(tenantId).agents.get(agentId);
    if (record === undefined || record.status === 'retired') return;
    const now = this.now();
    const metadata: EventMetadata = {
      occurredAt: now,
      correlationId: event.metadata.correlationId,
      // Routing is not a hop: the agent's decision on this input is the next one.
      hop: event.metadata.hop,
      causationId: event.eventId,
      tenantId,
      actor: AGENT_ROUTER_ACTOR,
      ...(event.metadata.traceparent !== undefined ? { traceparent: event.metadata.traceparent } : {}),
    };
    const enqueued: MailboxInputEnqueued = { type: 'mailbox.input-enqueued', data: { agentId, input, enqueuedAt: now } };
    const entry: NewEvent = { eventId: mailboxEntryId(agentId, event.eventId), type: enqueued.type, data: enqueued.data, metadata };
    requests.push({ streamName: streamName('mailbox', agentId, tenantId), events: [entry], expected: 'any' });
  }

  private applyIfLifecycle(event: RecordedEvent, undo: UndoLog | undefined): void {
    const parsed = parseStreamName(event.streamName);
    // Only the agent's own stream: an ingested event may well be called `agent.defined`.
    if (parsed === null || parsed.category !== 'agent' || !isLifecycleEvent(event)) return;
    const { tenantId } = parsed;
    const agentId = event.data.agentId;
    const tenant = this.tenantOf(tenantId);
    const current = tenant.agents.get(agentId);
    const next = nextRecord(current, event, event.position);
    if (next === current) return;
    const key = `${tenantId}\n${agentId}`;
    if (undo !== undefined && !undo.has(key)) undo.set(key, { tenantId, agentId, before: current });
    this.restore(tenantId, agentId, next);
  }

  /** Puts an agent's record in place and brings the index in line with it. */
  private restore(tenantId: string, agentId: string, record: AgentRecord | undefined): void {
    const tenant = this.tenantOf(tenantId);
    if (record === undefined) tenant.agents.delete(agentId);
    else tenant.agents.set(agentId, record);
    if (record?.status === 'active') tenant.index.set(agentId, record.subscriptions);
    else tenant.index.remove(agentId);
  }

  private tenantOf(tenantId: string): TenantRouting {
    let tenant = this.tenants.get(tenantId);
    if (tenant === undefined) {
      tenant = { agents: new Map(), index: new SubscriptionIndex({ onError: this.options.onFilterError }), conversations: new Map() };
      this.tenants.set(tenantId, tenant);
    }
    return tenant;
  }

  private advanceTo(position: GlobalPosition): void {
    if (position <= this.processed) return;
    this.processed = position;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter.position <= position) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing reporter must not stop routing.
    }
  }
}

function eventInput(event: RecordedEvent, view: CloudEventView): MailboxEventInput {
  return { kind: 'event', ref: event.eventId, position: event.position, type: event.type, ...(view.subject !== null ? { subject: view.subject } : {}) };
}

/** The agent's routing record after a lifecycle event; the same object when nothing changes. */
function nextRecord(current: AgentRecord | undefined, event: LifecycleEvent, position: number): AgentRecord | undefined {
  // Retirement is final: nothing brings a retired agent back.
  if (current?.status === 'retired') return current;
  switch (event.type) {
    case 'agent.defined':
      return { subscriptions: event.data.definition.subscriptions, status: 'active', kind: event.data.definition.kind, tags: event.data.definition.tags ?? [] };
    case 'agent.reconfigured':
      return {
        subscriptions: event.data.definition.subscriptions,
        status: current?.status ?? 'active',
        kind: event.data.definition.kind,
        tags: event.data.definition.tags ?? [],
      };
    case 'agent.paused':
      return current === undefined ? current : { ...current, status: 'paused', pausedAt: position };
    case 'agent.resumed': {
      if (current === undefined) return current;
      const { pausedAt: _cleared, ...resumed } = current;
      return { ...resumed, status: 'active' };
    }
    case 'agent.retired':
      return { subscriptions: [], status: 'retired', ...(current?.kind !== undefined && { kind: current.kind }) };
  }
}
