import {
  parseStreamName,
  type DirectAgentAction,
  type EventStore,
  type GlobalPosition,
  type MailboxInputEnqueued,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';
import { ActionExecutor } from './action-executor';
import { AgentWorker, type ApprovalOutcomeItem } from './agent-worker';
import { ChainLedger } from './chain-ledger';
import type { CheckpointStore } from './checkpoint-store.port';
import { EntityStateReader } from './entity-state-reader';
import { GroupCommitEventStore } from './group-commit-event-store';
import type { LlmDecider } from './llm-decider.port';
import { SILENT_RUNTIME_LOGGER, type RuntimeLogger } from './runtime-logger.port';
import type { TokenStream } from './token-stream.port';
import type { WebhookClient } from './webhook-client.port';

export const DEFAULT_AGENT_RUNTIME_CHECKPOINT = 'agent-runtime';

export interface AgentRuntimeOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly webhooks: WebhookClient;
  readonly llm?: LlmDecider | null;
  readonly tokens?: TokenStream | null;
  readonly logger?: RuntimeLogger;
  readonly now?: () => Date;
  readonly checkpointName?: string;
  readonly batchSize?: number;
  /** A worker idle this long is dropped from memory. Default 5 minutes. */
  readonly idleWorkerMs?: number;
  /** Inputs handed to workers and not yet processed, beyond which delivery waits. Default 20,000. */
  readonly maxInFlight?: number;
  readonly historyMessages?: number;
  readonly historyCharacters?: number;
  readonly retryDelayMs?: number;
  readonly onDecision?: (agentId: string, outcome: 'decided' | 'failed' | 'cancelled' | 'skipped') => void;
}

/** What the runtime follows in the store: mailboxes, what changes an agent, and approval outcomes. */
export const RUNTIME_INPUT_TYPES = [
  'mailbox.input-enqueued',
  'agent.reconfigured',
  'agent.paused',
  'agent.resumed',
  'agent.retired',
  'conversation.approval-resolved',
  'conversation.approval-expired',
  'conversation.closed',
] as const;

interface ApprovalEventData {
  readonly approvalId: string;
  readonly agentId: string;
  readonly decisionId: string;
  readonly action: unknown;
  readonly decision?: 'approve' | 'reject';
}

/**
 * The agent runtime: follows every mailbox in the store and hands each agent's inputs to that
 * agent's worker, which processes them one at a time (see AgentWorker). Agents run concurrently
 * with each other; an agent never runs two inputs at once.
 *
 * The subscription handler only hands work over and returns (nothing slow runs in it). Its
 * checkpoint is a low watermark: the position before the oldest input not yet fully processed, so
 * a restart re-delivers everything unfinished; workers skip what their agent's state says is done.
 */
export class AgentRuntime {
  private readonly workers = new Map<string, AgentWorker>();
  private readonly inFlight = new Set<GlobalPosition>();
  private readonly actions: ActionExecutor;
  /** The workers' writes, group-committed (see GroupCommitEventStore). */
  private readonly writes: GroupCommitEventStore;
  private readonly chains: ChainLedger;
  private readonly entities: EntityStateReader;
  private readonly logger: RuntimeLogger;
  private readonly checkpointName: string;
  private readonly maxInFlight: number;
  private readonly idleWorkerMs: number;
  private subscription: Subscription | null = null;
  /** Started with `follow: false`: inputs come through `dispatch`. */
  private dispatching = false;
  private delivered: GlobalPosition = 0;
  private saved: GlobalPosition = 0;
  private saving: Promise<void> | null = null;
  private drainWaiters: (() => void)[] = [];
  private capacityWaiters: (() => void)[] = [];
  private checkpointTimer: NodeJS.Timeout | null = null;
  private evictionTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: AgentRuntimeOptions) {
    this.actions = new ActionExecutor(options.store, options.webhooks);
    this.writes = new GroupCommitEventStore(options.store);
    this.chains = new ChainLedger(options.store);
    this.entities = new EntityStateReader(options.store);
    this.logger = options.logger ?? SILENT_RUNTIME_LOGGER;
    this.checkpointName = options.checkpointName ?? DEFAULT_AGENT_RUNTIME_CHECKPOINT;
    this.maxInFlight = options.maxInFlight ?? 20_000;
    this.idleWorkerMs = options.idleWorkerMs ?? 5 * 60_000;
  }

  get running(): boolean {
    return this.subscription !== null || this.dispatching;
  }

  /**
   * Hands one event the runtime follows (RUNTIME_INPUT_TYPES) to the worker of `agentId`, as the
   * store subscription would; `done` is called once that agent has fully processed it (or at
   * once when it concerns nothing of that agent). Only the part of the event that concerns
   * `agentId` runs: a closed conversation cancels only that agent's proposals.
   */
  dispatch(event: RecordedEvent, agentId: string, done: () => void): void {
    // Only reading a closed conversation's proposals can fail, before anything is handed over:
    // try again, the Kafka batch waits for `done`.
    const attempt = (): void =>
      void this.route(event, agentId, done).catch((error: unknown) => {
        this.logger.error({ err: error, eventId: event.eventId }, 'proposals of a closed conversation not read; retrying');
        setTimeout(attempt, this.options.retryDelayMs ?? 1_000).unref();
      });
    attempt();
  }

  /**
   * Hands what `event` asks of agents to their workers — of every agent, or of `onlyAgent` — and
   * calls `done` once they have processed it (at once when it asks nothing). Resolves when it is
   * handed over, so that events are handed over in order.
   */
  private async route(event: RecordedEvent, onlyAgent: string | null, done: () => void): Promise<void> {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null) return done();
    const concerns = (agentId: string) => onlyAgent === null || onlyAgent === agentId;
    if (parsed.category === 'mailbox' && event.type === 'mailbox.input-enqueued') {
      if (!concerns(parsed.id)) return done();
      const data = event.data as MailboxInputEnqueued['data'];
      this.worker(parsed.tenantId, parsed.id).enqueue({ eventId: event.eventId, revision: event.revision, position: event.position, input: data.input, metadata: event.metadata }, done);
      return;
    }
    if (parsed.category === 'agent') {
      if (concerns(parsed.id)) {
        // A resumed agent reads its mailbox again, worker or not (after a restart there may be none yet).
        if (event.type === 'agent.resumed') this.worker(parsed.tenantId, parsed.id).invalidate();
        else this.workers.get(workerKey(parsed.tenantId, parsed.id))?.invalidate();
      }
      return done();
    }
    if (parsed.category === 'conversation' && event.type === 'conversation.closed') {
      const proposals = (await this.proposalsCancelledBy(event)).filter((proposal) => concerns(proposal.agentId));
      if (proposals.length === 0) return done();
      // One event, several items: it is done once they all are.
      let left = proposals.length;
      for (const { agentId, item } of proposals) {
        this.worker(parsed.tenantId, agentId).enqueueApproval(item, () => {
          left -= 1;
          if (left === 0) done();
        });
      }
      return;
    }
    const approval = parsed.category === 'conversation' ? approvalOutcome(event) : null;
    if (approval === null || !concerns(approval.agentId)) return done();
    this.worker(parsed.tenantId, approval.agentId).enqueueApproval(approval.item, done);
  }

  /** Highest position handed to workers. */
  get position(): GlobalPosition {
    return this.delivered;
  }

  /**
   * Starts the runtime. By default it follows the store's mailboxes itself (standalone). With
   * `follow: false` it only runs what `dispatch` hands it: the distributed mode's Kafka consumer
   * feeds it the inputs of the agents whose mailbox partitions this replica owns.
   */
  async start(options: { follow?: boolean } = {}): Promise<void> {
    if (this.subscription !== null || this.dispatching) return;
    if (options.follow === false) {
      this.dispatching = true;
      this.startEviction();
      return;
    }
    const checkpoint = await this.options.checkpoints.load(this.checkpointName);
    this.delivered = checkpoint;
    this.saved = checkpoint;
    this.subscription = this.options.store.subscribe(
      {
        onEvents: (events) => this.handle(events),
        onError: (error) => this.logger.error({ err: error }, 'agent runtime subscription failed; retrying'),
      },
      { after: checkpoint, filter: { types: RUNTIME_INPUT_TYPES }, ...(this.options.batchSize !== undefined && { batchSize: this.options.batchSize }) },
    );
    this.checkpointTimer = setInterval(() => void this.saveCheckpoint(), 250);
    this.checkpointTimer.unref();
    this.startEviction();
  }

  private startEviction(): void {
    // Workers of agents that have been idle a while are dropped (their state is read again when an
    // input comes): memory follows the agents at work, not every agent ever seen.
    this.evictionTimer = setInterval(() => void this.evictIdleWorkers(), Math.min(60_000, this.idleWorkerMs));
    this.evictionTimer.unref();
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    this.dispatching = false;
    if (this.checkpointTimer !== null) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    if (this.evictionTimer !== null) clearInterval(this.evictionTimer);
    this.evictionTimer = null;
    const capacity = this.capacityWaiters.splice(0);
    for (const resolve of capacity) resolve();
    if (subscription !== null) await subscription.stop();
    await Promise.all([...this.workers.values()].map((worker) => worker.stop()));
    this.workers.clear();
    await this.saveCheckpoint();
  }

  /** Resolves once every input delivered so far has been processed (for tests and benchmarks). */
  whenIdle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Workers currently held in memory. */
  get workerCount(): number {
    return this.workers.size;
  }

  /** Drops the workers idle for at least `idleWorkerMs` (exposed for tests). */
  async evictIdleWorkers(now: number = Date.now()): Promise<void> {
    for (const [key, worker] of [...this.workers]) {
      const idle = worker.idleSince(now);
      if (idle === null || idle < this.idleWorkerMs) continue;
      this.workers.delete(key);
      await worker.stop();
    }
  }

  /** How many inputs are handed over and not finished. */
  get backlog(): number {
    return this.inFlight.size;
  }

  private async handle(events: readonly RecordedEvent[]): Promise<void> {
    for (const event of events) {
      if (event.position <= this.delivered) continue;
      const done = this.track(event.position);
      try {
        await this.route(event, null, done);
      } catch (error) {
        // Not handed over: the subscription delivers the batch again from here.
        done();
        throw error;
      }
      this.delivered = event.position;
    }
    // Back-pressure: the store keeps what the workers have not taken yet.
    while (this.inFlight.size >= this.maxInFlight && this.subscription !== null) {
      await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    }
  }

  /** See `cancelledProposals`. */
  proposalsCancelledBy(event: RecordedEvent): Promise<{ agentId: string; item: ApprovalOutcomeItem }[]> {
    return cancelledProposals(event, this.options.store);
  }

  private track(position: GlobalPosition): () => void {
    this.inFlight.add(position);
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      this.inFlight.delete(position);
      if (this.inFlight.size < this.maxInFlight) {
        const waiters = this.capacityWaiters.splice(0);
        for (const resolve of waiters) resolve();
      }
      if (this.inFlight.size === 0) {
        const waiters = this.drainWaiters.splice(0);
        for (const resolve of waiters) resolve();
      }
    };
  }

  private worker(tenantId: string, agentId: string): AgentWorker {
    const key = workerKey(tenantId, agentId);
    let worker = this.workers.get(key);
    if (worker === undefined) {
      worker = new AgentWorker(tenantId, agentId, {
        store: this.writes,
        actions: this.actions,
        chains: this.chains,
        entities: this.entities,
        llm: this.options.llm ?? null,
        tokens: this.options.tokens ?? null,
        logger: this.logger,
        now: this.options.now ?? (() => new Date()),
        historyMessages: this.options.historyMessages ?? 20,
        historyCharacters: this.options.historyCharacters ?? 24_000,
        retryDelayMs: this.options.retryDelayMs ?? 1_000,
        cursors: this.options.checkpoints,
        ...(this.options.onDecision !== undefined && { onDecision: this.options.onDecision }),
      });
      this.workers.set(key, worker);
    }
    return worker;
  }

  /** The low watermark: everything at or below it is processed. */
  private watermark(): GlobalPosition {
    let lowest = Number.POSITIVE_INFINITY;
    for (const position of this.inFlight) if (position < lowest) lowest = position;
    return lowest === Number.POSITIVE_INFINITY ? this.delivered : lowest - 1;
  }

  private async saveCheckpoint(): Promise<void> {
    if (this.saving !== null) return this.saving;
    const position = this.watermark();
    if (position <= this.saved) return;
    this.saving = this.options.checkpoints
      .save(this.checkpointName, position)
      .then(() => {
        this.saved = position;
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'agent runtime checkpoint not saved (re-delivery after a restart is harmless)'))
      .finally(() => {
        this.saving = null;
      });
    return this.saving;
  }
}

/**
 * Closing a conversation cancels its pending approvals: each proposal is settled as rejected
 * (`cancelled`), so its decision does not stay open forever. The event lists only the approval
 * ids; what each proposed (and by which agent) is read back from the conversation.
 */
export async function cancelledProposals(event: RecordedEvent, store: Pick<EventStore, 'readStream'>): Promise<{ agentId: string; item: ApprovalOutcomeItem }[]> {
  const cancelled = new Set((event.data as { cancelledApprovalIds?: readonly string[] }).cancelledApprovalIds ?? []);
  if (cancelled.size === 0) return [];
  const history = await store.readStream(event.streamName, { toPosition: event.position });
  return history
    .filter((requested) => requested.type === 'conversation.approval-requested')
    .map((requested) => proposalOf(requested.data as ApprovalEventData, 'reject', 'cancelled'))
    .filter((proposal): proposal is NonNullable<typeof proposal> => proposal !== null && cancelled.has(proposal.item.approvalId));
}

/**
 * The agents an event the runtime follows concerns: whose worker must see it. In the distributed
 * mode this is the Kafka key of the event on the mailbox topic, so each agent's inputs stay in
 * one partition, in order, on one runtime replica.
 */
export async function runtimeInputTargets(event: RecordedEvent, store: Pick<EventStore, 'readStream'>): Promise<string[]> {
  if (!(RUNTIME_INPUT_TYPES as readonly string[]).includes(event.type)) return [];
  const parsed = parseStreamName(event.streamName);
  if (parsed === null) return [];
  if (parsed.category === 'mailbox' || parsed.category === 'agent') return [parsed.id];
  if (parsed.category !== 'conversation') return [];
  if (event.type === 'conversation.closed') return [...new Set((await cancelledProposals(event, store)).map((proposal) => proposal.agentId))];
  const approval = approvalOutcome(event);
  return approval === null ? [] : [approval.agentId];
}

const workerKey = (tenantId: string, agentId: string) => `${tenantId}\n${agentId}`;

function approvalOutcome(event: RecordedEvent): { agentId: string; item: ApprovalOutcomeItem } | null {
  if (event.type !== 'conversation.approval-resolved' && event.type !== 'conversation.approval-expired') return null;
  const data = event.data as ApprovalEventData;
  return proposalOf(data, data.decision ?? 'reject', event.type === 'conversation.approval-expired' ? 'expired' : 'resolved');
}

function proposalOf(data: ApprovalEventData, decision: 'approve' | 'reject', how: ApprovalOutcomeItem['how']): { agentId: string; item: ApprovalOutcomeItem } | null {
  const action = data.action as { index?: unknown; proposed?: unknown } | null;
  // Only proposals made by the runtime carry their action index; others are not ours to run.
  if (action === null || typeof action !== 'object' || typeof action.index !== 'number' || typeof action.proposed !== 'object' || action.proposed === null) return null;
  return {
    agentId: data.agentId,
    item: { approvalId: data.approvalId, decisionId: data.decisionId, index: action.index, proposed: action.proposed as DirectAgentAction, decision, how },
  };
}
