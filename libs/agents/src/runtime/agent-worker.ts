import {
  agentDecider,
  checkBudget,
  ConcurrencyConflictError,
  DomainError,
  streamName,
  type AgentAction,
  type AgentCommand,
  type AgentDecisionRecorded,
  type AgentEvent,
  type AppendRequest,
  type BudgetExceeded,
  type ChainEvent,
  type CommandContext,
  type DecisionEngine,
  type DecisionInput,
  type DecisionPlacement,
  type DecisionUsage,
  type DefinedAgentState,
  type DirectAgentAction,
  type EventMetadata,
  type EventStore,
  type MailboxInput,
  type RecordedEvent,
} from '@meridian/domain';
import { decide as decideWithRules } from '../reasoning/rules/rules-engine';
import type { DecisionContext } from '../reasoning/rules/decision-context';
import { cloudEventViewOf } from '../routing/cloud-event-view';
import type { ActionExecutor, ActionStep, RecordedDecisionContext } from './action-executor';
import type { ChainLedger, LoadedChain } from './chain-ledger';
import type { EntityStateReader } from './entity-state-reader';
import type { LlmDecider, LlmTurn } from './llm-decider.port';
import { actionOutputId, cancelledDecisionId, decisionIdFor, runtimeEventId } from './runtime-ids';
import type { RuntimeLogger } from './runtime-logger.port';
import type { TokenStream } from './token-stream.port';


/** A `mailbox.input-enqueued` as the worker sees it. */
export interface MailboxEntry {
  readonly eventId: string;
  readonly revision: number;
  readonly position: number;
  readonly input: MailboxInput;
  readonly metadata: EventMetadata;
}

/** A person (or the timeout) decided on a proposal. */
export interface ApprovalOutcomeItem {
  readonly approvalId: string;
  readonly decisionId: string;
  readonly index: number;
  readonly proposed: DirectAgentAction;
  readonly decision: 'approve' | 'reject';
  /** `cancelled`: the conversation was closed while the proposal waited. */
  readonly how: 'resolved' | 'expired' | 'cancelled';
}

type WorkItem =
  | { readonly kind: 'input'; readonly entry: MailboxEntry; readonly done: () => void }
  | { readonly kind: 'approval'; readonly approval: ApprovalOutcomeItem; readonly done: () => void };

type InputItem = Extract<WorkItem, { kind: 'input' }>;

export interface AgentWorkerDependencies {
  readonly store: EventStore;
  readonly actions: ActionExecutor;
  readonly chains: ChainLedger;
  readonly entities: EntityStateReader;
  readonly llm: LlmDecider | null;
  readonly tokens: TokenStream | null;
  readonly logger: RuntimeLogger;
  readonly now: () => Date;
  /** Conversation turns given to an LLM decision, newest last, within `historyCharacters`. */
  readonly historyMessages: number;
  readonly historyCharacters: number;
  /** Pause before retrying after an infrastructure failure (store unreachable…). */
  readonly retryDelayMs: number;
  /**
   * Where the worker keeps how far its mailbox is processed, for inputs that led to no recorded
   * decision (no rule matched): a lower bound, so a restart re-reads less. Optional.
   */
  readonly cursors?: { load(name: string): Promise<number>; save(name: string, value: number): Promise<void> };
  readonly onDecision?: (agentId: string, outcome: 'decided' | 'failed' | 'cancelled' | 'skipped') => void;
}

interface OpenDecisionRecord {
  readonly eventId: string;
  readonly data: AgentDecisionRecorded['data'];
  readonly hop: number;
}

type DecisionResult = 'done' | 'cancelled' | 'paused' | 'stopped';

/** Inputs arriving while an LLM decision runs interrupt it at most this many times in a row, then wait. */
const MAX_INTERRUPTS_IN_ROW = 3;
const MAX_RETRY_DELAY_MS = 30_000;

const MAX_COMMIT_ATTEMPTS = 10;
const ZERO_USAGE: DecisionUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };

class InterruptedError extends Error {
  constructor(readonly by: string) {
    super(`interrupted by mailbox entry ${by}`);
  }
}

/**
 * One agent's mailbox processor: takes its inputs one at a time, in mailbox order, decides, records
 * the decision, then runs its actions from the record.
 *
 * Crash safety rests on three facts. (1) A decision's id is derived from the mailbox entry it
 * answers, and the agent's state remembers recent decision ids, so recording it twice is a no-op;
 * (2) the agent's state records the mailbox revision its last decision covered, so a restart skips
 * what was decided; (3) actions run from the recorded decision and each result is recorded once per
 * (decisionId, index) — the agent's state lists the unsettled ones, which a restart runs.
 *
 * The state is cached between inputs. Other writers (an operator pausing the agent, a message
 * received over HTTP) make the next append conflict; the worker then reloads and decides again.
 */
export class AgentWorker {
  private state: DefinedAgentState | null = null;
  private revision = -1;
  private loaded = false;
  private readonly open = new Map<string, OpenDecisionRecord>();
  /** The agent's latest decisions, oldest first: the "recent inputs" an LLM decision sees outside conversations. */
  private readonly recent: { readonly input: unknown; readonly actions: unknown }[] = [];
  private readonly queue: WorkItem[] = [];
  /** Inputs of a cancelled (interrupted) decision: decided again together with what interrupted them. */
  private carry: InputItem[] = [];
  private running = false;
  private stopped = false;
  private inFlight: { readonly controller: AbortController } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Highest mailbox revision processed (decided, or nothing to decide); -1 before any. */
  private processed = -1;
  /** Highest mailbox revision in the queue (or processed). */
  private queuedUpTo = -1;
  /** The mailbox must be read again from `processed` (first load; after a pause released the queue). */
  private scanNeeded = true;
  private cursorLoaded = false;
  private savedCursor = -1;
  private cursorTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private interruptsInRow = 0;
  /** The engine's answer for a decision not recorded yet: a retry of the record never asks again. */
  private readonly answered = new Map<string, { output: unknown; actions: readonly AgentAction[]; usage: DecisionUsage; latencyMs: number }>();

  constructor(
    readonly tenantId: string,
    readonly agentId: string,
    private readonly deps: AgentWorkerDependencies,
  ) {}

  get streamName(): string {
    return streamName('agent', this.agentId, this.tenantId);
  }

  get pending(): number {
    return this.queue.length + this.carry.length;
  }

  /** When the worker last had something to do (ms since the epoch). */
  private lastActive = Date.now();

  /** Nothing queued, nothing running, no action left: it may be dropped and made again when needed. */
  idleSince(now: number): number | null {
    const busy = this.running || this.queue.length > 0 || this.carry.length > 0 || this.open.size > 0 || this.retryTimer !== null || this.answered.size > 0;
    return busy ? null : now - this.lastActive;
  }

  enqueue(entry: MailboxEntry, done: () => void): void {
    // Already queued (read from the mailbox) or processed.
    if (entry.revision <= Math.max(this.processed, this.queuedUpTo)) {
      done();
      return;
    }
    this.queue.push({ kind: 'input', entry, done });
    this.queuedUpTo = entry.revision;
    // Interrupt: a newer input cancels the decision in flight (only an LLM call can be in flight
    // long enough to be worth cancelling; a rules decision is synchronous). Bounded, so inputs
    // arriving faster than the model answers cannot keep every decision from finishing.
    if (this.inFlight !== null && this.state?.definition.mailboxPolicy === 'interrupt' && this.interruptsInRow < MAX_INTERRUPTS_IN_ROW) {
      this.inFlight.controller.abort(new InterruptedError(entry.eventId));
    }
    this.kick();
  }

  enqueueApproval(approval: ApprovalOutcomeItem, done: () => void): void {
    this.queue.push({ kind: 'approval', approval, done });
    this.kick();
  }

  /** The agent's stream changed under us (paused, resumed, reconfigured, retired): reload before the next input. */
  invalidate(): void {
    this.loaded = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.cursorTimer !== null) clearTimeout(this.cursorTimer);
    this.inFlight?.controller.abort(new Error('runtime stopping'));
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    this.lastActive = Date.now();
    if (this.running || this.stopped || this.retryTimer !== null) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      const waiters = this.idleWaiters.splice(0);
      for (const resolve of waiters) resolve();
    });
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        if (!this.loaded) await this.load();
        const progressed = await this.step();
        this.failures = 0;
        if (!progressed) return;
      }
    } catch (error: unknown) {
      if (this.stopped) return;
      // Infrastructure failure: nothing is dropped; the same item is tried again, backing off.
      this.failures += 1;
      const delay = Math.min(MAX_RETRY_DELAY_MS, this.deps.retryDelayMs * 2 ** (this.failures - 1));
      this.deps.logger.error({ err: error, agentId: this.agentId, tenantId: this.tenantId, attempt: this.failures, retryInMs: delay }, 'agent worker failed; retrying');
      this.loaded = false;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, delay);
      this.retryTimer.unref();
    }
  }

  /** Processes the next item; false when there is nothing it can do now. */
  private async step(): Promise<boolean> {
    const agent = this.state;
    const head = this.queue[0];
    if (head === undefined && this.carry.length === 0) return false;
    if (head?.kind === 'approval') {
      this.queue.shift();
      await this.settleApproval(head.approval);
      head.done();
      return true;
    }
    if (agent === null) {
      // Mailbox entries exist only for defined agents; an unknown one has nothing to decide with.
      this.deps.logger.warn({ agentId: this.agentId, tenantId: this.tenantId }, 'mailbox input for an unknown agent dropped');
      this.drainInputs();
      return true;
    }
    if (agent.status === 'retired') {
      this.drainInputs();
      return true;
    }
    // A paused agent keeps its mailbox, but not in memory: its inputs are released (they must not
    // hold back the runtime's checkpoint) and read from the mailbox again once it is resumed.
    if (agent.status === 'paused') {
      this.releaseInputs();
      return false;
    }

    const fresh: InputItem[] = [];
    while (this.queue[0]?.kind === 'input') {
      const item = this.queue[0] as InputItem;
      if (item.entry.revision <= this.processed) {
        // Decided before a restart (or re-delivered): nothing to do.
        this.queue.shift();
        item.done();
        continue;
      }
      const takeAll = agent.definition.mailboxPolicy === 'coalesce' || this.carry.length > 0;
      if (!takeAll && fresh.length === 1) break;
      fresh.push(item);
      this.queue.shift();
    }
    const batch = [...this.carry, ...fresh];
    this.carry = [];
    if (batch.length === 0) return this.queue.length > 0;
    let result: DecisionResult;
    try {
      result = await this.decide(batch);
    } catch (error: unknown) {
      // Not decided: put the inputs back in front, in order, for the retry.
      this.queue.unshift(...batch);
      throw error;
    }
    if (result === 'cancelled') {
      this.interruptsInRow += 1;
      this.carry = batch;
      return true;
    }
    if (result === 'paused') {
      this.queue.unshift(...batch);
      this.loaded = false;
      return true;
    }
    if (result === 'stopped') {
      // Actions are left: the inputs stay unfinished, so a restart delivers them again and the
      // agent's next load runs what is left of the decision.
      this.queue.unshift(...batch);
      return false;
    }
    this.interruptsInRow = 0;
    this.markProcessed(batch[batch.length - 1].entry.revision);
    for (const item of batch) item.done();
    return true;
  }

  private markProcessed(revision: number): void {
    if (revision <= this.processed) return;
    this.processed = revision;
    this.queuedUpTo = Math.max(this.queuedUpTo, revision);
    const cursors = this.deps.cursors;
    if (cursors === undefined || this.cursorTimer !== null) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null;
      const value = this.processed;
      if (value <= this.savedCursor) return;
      cursors
        .save(this.cursorName, value + 1)
        .then(() => {
          this.savedCursor = Math.max(this.savedCursor, value);
        })
        .catch((error: unknown) => this.deps.logger.warn({ err: error, agentId: this.agentId }, 'mailbox cursor not saved (a restart re-reads a little more)'));
    }, 500);
    this.cursorTimer.unref();
  }

  private get cursorName(): string {
    return `mailbox:${this.tenantId}/${this.agentId}`;
  }

  /** Drops the queued inputs (marking them finished for the runtime); the mailbox keeps them. */
  private releaseInputs(): void {
    this.drainInputs();
    this.queuedUpTo = this.processed;
    this.scanNeeded = true;
  }

  /**
   * Puts in the queue, in mailbox order, what the mailbox holds after `processed` and the queue
   * does not: inputs released during a pause, or left unfinished before a restart.
   */
  private async scanMailbox(): Promise<void> {
    const entries = await this.deps.store.readStream(streamName('mailbox', this.agentId, this.tenantId), { fromRevision: this.processed + 1 });
    const queued = new Map<number, InputItem>();
    const others: WorkItem[] = [];
    for (const item of this.queue) {
      if (item.kind === 'input') queued.set(item.entry.revision, item);
      else others.push(item);
    }
    for (const event of entries) {
      if (event.type !== 'mailbox.input-enqueued' || queued.has(event.revision)) continue;
      const data = event.data as { input: MailboxInput };
      queued.set(event.revision, {
        kind: 'input',
        entry: { eventId: event.eventId, revision: event.revision, position: event.position, input: data.input, metadata: event.metadata },
        done: () => undefined,
      });
    }
    const carried = new Set(this.carry.map((item) => item.entry.revision));
    const inputs = [...queued.values()].filter((item) => !carried.has(item.entry.revision)).sort((a, b) => a.entry.revision - b.entry.revision);
    this.queue.length = 0;
    this.queue.push(...others, ...inputs);
    this.queuedUpTo = Math.max(this.queuedUpTo, ...inputs.map((item) => item.entry.revision));
    this.scanNeeded = false;
  }

  private drainInputs(): void {
    for (const item of this.carry) item.done();
    this.carry = [];
    for (let i = 0; i < this.queue.length; ) {
      const item = this.queue[i];
      if (item.kind === 'input') {
        this.queue.splice(i, 1);
        item.done();
      } else i += 1;
    }
  }

  /** Folds the agent's stream, keeping the recorded decisions that still have unsettled actions, and runs those. */
  private async load(): Promise<void> {
    await this.catchUp();
    const state = this.state;
    if (!this.cursorLoaded && this.deps.cursors !== undefined) {
      const saved = await this.deps.cursors.load(this.cursorName);
      this.savedCursor = saved - 1;
      this.processed = Math.max(this.processed, saved - 1);
      this.cursorLoaded = true;
    }
    if (state !== null) this.processed = Math.max(this.processed, state.mailboxRevision);
    this.loaded = true;
    for (const decisionId of [...this.open.keys()]) await this.runActions(decisionId);
    if (state !== null && state.status === 'active' && this.scanNeeded) await this.scanMailbox();
  }

  private async decide(batch: readonly InputItem[]): Promise<DecisionResult> {
    const agent = this.state as DefinedAgentState;
    const last = batch[batch.length - 1].entry;
    const decisionId = decisionIdFor(this.agentId, last.eventId);
    if (agent.recentDecisionIds.includes(decisionId)) {
      // Recorded before a crash: only its actions may be left.
      return (await this.runActions(decisionId)) ? 'done' : 'stopped';
    }
    const correlationId = last.metadata.correlationId;
    const hop = last.metadata.hop + 1;
    const inputs = batch.map(({ entry }) => toDecisionInput(entry));
    const input = inputs[inputs.length - 1];
    const placement: DecisionPlacement = {
      mailboxRevision: last.revision,
      ...(inputs.length > 1 && { coalesced: inputs.slice(0, -1) }),
      hop,
    };
    const engine = engineOf(agent);
    const metadata: EventMetadata = {
      occurredAt: this.deps.now().toISOString(),
      correlationId,
      causationId: last.eventId,
      hop,
      tenantId: this.tenantId,
      actor: { kind: 'agent', id: this.agentId },
      ...(last.metadata.traceparent !== undefined && { traceparent: last.metadata.traceparent }),
    };
    const failure = (code: string, message: string, extra: { output?: unknown; usage?: DecisionUsage; latencyMs?: number } = {}): AgentCommand => ({
      type: 'RecordDecisionFailure',
      data: {
        agentId: this.agentId,
        decisionId,
        input,
        engine,
        definitionVersion: agent.version,
        error: { code, message },
        ...(extra.output !== undefined && { output: extra.output }),
        usage: extra.usage ?? ZERO_USAGE,
        latencyMs: extra.latencyMs ?? 0,
        ...placement,
      },
    });

    const context = await this.contextFor(agent, batch, inputs);
    const started = performance.now();
    let output: unknown;
    let actions: readonly AgentAction[];
    let usage: DecisionUsage = ZERO_USAGE;
    if (agent.definition.engine.type === 'rules') {
      try {
        const decided = decideWithRules(agent.definition.engine, context);
        output = decided;
        actions = decided.actions;
      } catch (error: unknown) {
        if (!(error instanceof DomainError)) throw error;
        await this.commitDecision(decisionId, metadata, () => failure(error.code, error.message, { latencyMs: elapsed(started) }), null);
        this.deps.onDecision?.(this.agentId, 'failed');
        return 'done';
      }
      // Nothing matched: not a decision, and no step of the chain.
      if (actions.length === 0) return 'done';
    }
    // Budgets before any model call: a halted chain, or a step beyond a limit, costs nothing. (A
    // rules agent has decided already: an input none of its rules match is no step of the chain.)
    const chain = await this.deps.chains.load(this.tenantId, correlationId);
    if (chain.state.halted !== null) {
      await this.commitDecision(decisionId, metadata, () => failure('CHAIN_HALTED', `Chain ${correlationId} is halted (${chain.state.halted?.reason})`), null);
      this.deps.onDecision?.(this.agentId, 'skipped');
      return 'done';
    }
    const before = checkBudget(agent.definition.budgets, { ...chain.state.usage, hops: hop, decisions: chain.state.usage.decisions + 1 });
    if (before !== null) {
      await this.halt(chain, before, metadata);
      await this.commitDecision(decisionId, metadata, () => failure('CHAIN_BUDGET_EXCEEDED', describeExceeded(before)), null);
      this.deps.onDecision?.(this.agentId, 'skipped');
      return 'done';
    }

    const cached = this.answered.get(decisionId);
    if (cached !== undefined) {
      // Answered before the record failed (a store error, a pause): never ask the model twice.
      output = cached.output;
      actions = cached.actions;
      usage = cached.usage;
    } else if (agent.definition.engine.type === 'llm') {
      const llm = this.deps.llm;
      const llmEngine = agent.definition.engine;
      if (llm === null) {
        await this.commitDecision(decisionId, metadata, () => failure('LLM_NOT_CONFIGURED', 'No LLM engine is configured in this runtime'), null);
        this.deps.onDecision?.(this.agentId, 'failed');
        return 'done';
      }
      const controller = new AbortController();
      this.inFlight = { controller };
      const conversationId = input.kind === 'message' ? (last.input as { conversationId?: string }).conversationId : undefined;
      const tokens = this.deps.tokens;
      const onToken =
        conversationId !== undefined && tokens !== null
          ? (delta: string) => tokens.publish({ tenantId: this.tenantId, conversationId, agentId: this.agentId, messageId: actionOutputId(decisionId, 0), delta })
          : undefined;
      try {
        const history = conversationId !== undefined ? await this.historyOf(conversationId, last.input.ref) : this.recentTurns();
        const decided = await llm.decide(
          llmEngine,
          {
            ...(agent.definition.instructions !== undefined && { instructions: agent.definition.instructions }),
            input: context as unknown as Record<string, unknown>,
            history,
            allowedTools: agent.definition.tools,
          },
          { signal: controller.signal, ...(onToken !== undefined && { onToken }) },
        );
        output = decided.output;
        actions = decided.actions;
        usage = decided.usage;
        this.answered.set(decisionId, { output, actions, usage, latencyMs: elapsed(started) });
      } catch (error: unknown) {
        const reason: unknown = controller.signal.reason;
        if (controller.signal.aborted && reason instanceof InterruptedError) {
          await this.commit(
            {
              type: 'RecordDecisionCancellation',
              data: {
                agentId: this.agentId,
                decisionId: cancelledDecisionId(decisionId, reason.by),
                input,
                reason: 'interrupted by a newer input',
                interruptedBy: reason.by,
                latencyMs: elapsed(started),
              },
            },
            `cancel\n${decisionId}\n${reason.by}`,
            metadata,
          );
          this.deps.onDecision?.(this.agentId, 'cancelled');
          return 'cancelled';
        }
        if (this.stopped) throw error;
        const described = llm.describeFailure(error);
        this.deps.logger.warn({ agentId: this.agentId, decisionId, code: described.code, err: error }, 'LLM decision failed');
        await this.commitDecision(
          decisionId,
          metadata,
          () => failure(described.code, described.message, { ...(described.output !== undefined && { output: described.output }), latencyMs: elapsed(started) }),
          null,
        );
        this.deps.onDecision?.(this.agentId, 'failed');
        return 'done';
      } finally {
        this.inFlight = null;
      }
    }
    const latencyMs = cached?.latencyMs ?? elapsed(started);

    const record = (): AgentCommand => ({
      type: 'RecordDecision',
      data: { agentId: this.agentId, decisionId, input, engine, definitionVersion: agent.version, output, actions, usage, latencyMs, ...placement },
    });
    const usedWith = (current: LoadedChain) => {
      const { usage: used } = current.state;
      return { hops: hop, decisions: used.decisions + 1, tokens: used.tokens + usage.totalTokens, costUsd: used.costUsd + usage.costUsd };
    };
    const counted = (current: LoadedChain): ChainEvent[] | BudgetExceeded => {
      const exceeded = checkBudget(agent.definition.budgets, usedWith(current));
      if (exceeded !== null) return exceeded;
      // Halted while this decision was with the engine (by another step of the chain, or by this
      // one before a conflict made it commit again): it must not act either.
      const halted = current.state.halted;
      if (halted !== null) return { reason: halted.reason, limit: halted.limit, used: halted.used };
      return [{ type: 'chain.decision-counted', data: { correlationId, agentId: this.agentId, decisionId, hop, tokens: usage.totalTokens, costUsd: usage.costUsd } }];
    };
    const overBudget = (exceeded: BudgetExceeded, current: LoadedChain): AgentCommand =>
      checkBudget(agent.definition.budgets, usedWith(current)) === null
        ? failure('CHAIN_HALTED', `Chain ${correlationId} is halted (${exceeded.reason})`, { output, usage, latencyMs })
        : failure('CHAIN_BUDGET_EXCEEDED', describeExceeded(exceeded), { output, usage, latencyMs });
    // The agent's definition refuses the answer (an action outside the tools after a
    // reconfiguration, a template that rendered an invalid action): deciding again would give the
    // same answer, so it is recorded as failed rather than retried.
    const refused = (error: DomainError): AgentCommand => failure(error.code, error.message, { output, usage, latencyMs });
    const outcome = await this.commitDecision(decisionId, metadata, record, counted, overBudget, refused);
    if (outcome === 'paused') return 'paused';
    this.answered.delete(decisionId);
    if (outcome === 'failed') {
      this.deps.onDecision?.(this.agentId, 'failed');
      return 'done';
    }
    this.deps.onDecision?.(this.agentId, 'decided');
    return (await this.runActions(decisionId)) ? 'done' : 'stopped';
  }

  /**
   * Records a decision (or its failure) together with its count in the chain, in one commit that
   * checks both streams' revisions. When the chain moved on meanwhile (another agent of the chain
   * decided), the budget is checked again on its new usage.
   */
  private async commitDecision(
    decisionId: string,
    metadata: EventMetadata,
    command: () => AgentCommand,
    counted: ((chain: LoadedChain) => ChainEvent[] | BudgetExceeded) | null,
    overBudget?: (exceeded: BudgetExceeded, chain: LoadedChain) => AgentCommand,
    refused?: (error: DomainError) => AgentCommand,
  ): Promise<'recorded' | 'failed' | 'paused'> {
    const correlationId = metadata.correlationId;
    for (let attempt = 1; ; attempt += 1) {
      let chain: LoadedChain | null = null;
      let chainEvents: ChainEvent[] = [];
      let cmd = command();
      let result: 'recorded' | 'failed' = cmd.type === 'RecordDecision' ? 'recorded' : 'failed';
      if (counted !== null) {
        chain = await this.deps.chains.load(this.tenantId, correlationId);
        const outcome = counted(chain);
        if (Array.isArray(outcome)) chainEvents = outcome;
        else {
          // Over budget once the model's usage is known: the decision is kept (the model was
          // called and paid for) as a failure, and its actions never run.
          cmd = overBudget?.(outcome, chain) ?? cmd;
          await this.halt(chain, outcome, metadata);
          chain = await this.deps.chains.load(this.tenantId, correlationId);
          result = 'failed';
          chainEvents = [{ type: 'chain.decision-counted', data: { correlationId, agentId: this.agentId, decisionId, hop: metadata.hop, tokens: usageOf(cmd).totalTokens, costUsd: usageOf(cmd).costUsd } }];
        }
      }
      let events: AgentEvent[];
      try {
        events = agentDecider.decide(cmd, this.state, this.contextOf(metadata));
      } catch (error: unknown) {
        if (!(error instanceof DomainError)) throw error;
        // Paused or retired meanwhile: nothing is recorded; the reloaded state says what to do with the inputs.
        if (error.code === 'AGENT_PAUSED' || error.code === 'AGENT_RETIRED') return 'paused';
        if (cmd.type !== 'RecordDecision' || refused === undefined) throw error;
        cmd = refused(error);
        result = 'failed';
        events = agentDecider.decide(cmd, this.state, this.contextOf(metadata));
      }
      if (events.length === 0) return result;
      const requests: AppendRequest[] = [this.agentRequest(events, `decision\n${decisionId}`, metadata)];
      if (chain !== null && chainEvents.length > 0) {
        requests.push({
          streamName: chain.streamName,
          events: chainEvents.map((event, n) => ({ eventId: runtimeEventId(`chain\n${decisionId}`, n), type: event.type, data: event.data, metadata })),
          expected: chain.revision < 0 ? 'no_stream' : chain.revision,
        });
      }
      try {
        const results = await this.deps.store.appendMany(requests);
        this.applyOwn(events, results[0].nextExpectedRevision);
        if (chain !== null && results[1] !== undefined) this.deps.chains.appended(chain, chainEvents, results[1].nextExpectedRevision);
        const recorded = events.find((event): event is AgentDecisionRecorded => event.type === 'agent.decision-recorded');
        if (recorded !== undefined) this.remember(recorded.data);
        if (recorded !== undefined && recorded.data.actions.length > 0) {
          this.open.set(decisionId, { eventId: requests[0].events[events.indexOf(recorded)].eventId, data: recorded.data, hop: metadata.hop });
        }
        return result;
      } catch (error: unknown) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
        await this.recover(error, correlationId);
      }
    }
  }

  /** Halts the chain once (the first halt wins; later ones change nothing). */
  private async halt(chain: LoadedChain, exceeded: BudgetExceeded, metadata: EventMetadata): Promise<void> {
    let current = chain;
    for (let attempt = 1; ; attempt += 1) {
      if (current.state.halted !== null) return;
      const event: ChainEvent = {
        type: 'chain.halted',
        data: { correlationId: metadata.correlationId, reason: exceeded.reason, limit: exceeded.limit, used: exceeded.used, agentId: this.agentId, haltedAt: metadata.occurredAt },
      };
      try {
        const [result] = await this.deps.store.appendMany([
          {
            streamName: current.streamName,
            events: [{ eventId: runtimeEventId(`halt\n${metadata.correlationId}`, 0), type: event.type, data: event.data, metadata }],
            expected: current.revision < 0 ? 'no_stream' : current.revision,
          },
        ]);
        this.deps.chains.appended(current, [event], result.nextExpectedRevision);
        this.deps.logger.warn({ correlationId: metadata.correlationId, reason: exceeded.reason, limit: exceeded.limit, used: exceeded.used, agentId: this.agentId }, 'chain halted');
        return;
      } catch (error: unknown) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
        this.deps.chains.forget(this.tenantId, metadata.correlationId);
        current = await this.deps.chains.load(this.tenantId, metadata.correlationId);
      }
    }
  }

  /** Runs every unsettled action of a recorded decision, in index order. */
  /** Runs every unsettled action of a recorded decision, in index order; false when stopped first. */
  private async runActions(decisionId: string): Promise<boolean> {
    const record = this.open.get(decisionId);
    if (record === undefined) return true;
    const context = this.recordedContext(record);
    for (const { index, action } of record.data.actions) {
      if (this.stopped) return false;
      const open = this.state?.openDecisions[decisionId];
      if (open === undefined) break;
      if (open.settled.includes(index)) continue;
      await this.settle(context, index, action.action === 'call-webhook', () => this.deps.actions.plan(this.recordedContext(record), index, action));
    }
    if (this.state?.openDecisions[decisionId] === undefined) this.open.delete(decisionId);
    return true;
  }

  private async settleApproval(approval: ApprovalOutcomeItem): Promise<void> {
    const record = this.open.get(approval.decisionId);
    const open = this.state?.openDecisions[approval.decisionId];
    if (record === undefined || open === undefined || open.settled.includes(approval.index)) return;
    const context = this.recordedContext(record);
    // A retired agent does nothing more, even what a person approves after its retirement.
    const retired = this.state?.status === 'retired';
    await this.settle(context, approval.index, approval.proposed.action === 'call-webhook', async () =>
      retired
        ? this.deps.actions.rejected(approval.approvalId, approval.proposed, 'agent-retired')
        : approval.decision === 'approve'
        ? this.deps.actions.approved(this.recordedContext(record), approval.index, approval.proposed, approval.approvalId)
        : this.deps.actions.rejected(approval.approvalId, approval.proposed, approval.how === 'resolved' ? 'rejected' : approval.how),
    );
    if (this.state?.openDecisions[approval.decisionId] === undefined) this.open.delete(approval.decisionId);
  }

  /**
   * Plans an action and records its outcome with its writes. A conflict on another stream (a
   * conversation moved on) plans again; a webhook is never called again for that — only its
   * outcome's record is retried.
   */
  private async settle(context: RecordedDecisionContext, index: number, external: boolean, plan: () => Promise<ActionStep>): Promise<void> {
    let step = await plan();
    const metadata = this.deps.actions.metadataFor(context);
    for (let attempt = 1; ; attempt += 1) {
      const command: AgentCommand | null =
        step.kind === 'settle'
          ? { type: 'RecordActionResult', data: { agentId: this.agentId, decisionId: context.decisionId, index, outcome: step.outcome } }
          : null;
      let events: AgentEvent[] = [];
      if (command !== null) {
        try {
          events = agentDecider.decide(command, this.state, this.contextOf(metadata));
        } catch (error: unknown) {
          // Settled meanwhile (a result recorded by an earlier run): nothing left to do.
          if (error instanceof DomainError && (error.code === 'ACTION_ALREADY_EXECUTED' || error.code === 'DECISION_NOT_FOUND')) return;
          if (error instanceof DomainError && step.kind === 'settle' && step.outcome.status === 'succeeded') {
            // The effect's shape was refused: record it as failed rather than loop.
            step = { kind: 'settle', outcome: { status: 'failed', error: { code: error.code, message: error.message } }, requests: [] };
            continue;
          }
          throw error;
        }
      }
      try {
        await this.appendOwn(events, `action\n${context.decisionId}\n${index}`, metadata, step.requests);
        return;
      } catch (error: unknown) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
        if (error.streamName === this.streamName) await this.reloadState();
        else if (!external) step = await plan();
      }
    }
  }

  private async recover(conflict: ConcurrencyConflictError, correlationId: string): Promise<void> {
    if (conflict.streamName === this.streamName) await this.reloadState();
    else this.deps.chains.forget(this.tenantId, correlationId);
  }

  /** Reloads the agent's state only (open decision records are kept: they are immutable facts). */
  private async reloadState(): Promise<void> {
    await this.catchUp();
  }

  /**
   * Brings the cached state up to the stream's end, reading only what was appended after the
   * cached revision (events never change, so folding on is the same as folding from scratch; an
   * agent's long history is read once per worker, not at every conflict). Keeps the recorded
   * decisions that still have unsettled actions.
   */
  private async catchUp(): Promise<void> {
    const fresh = this.revision < 0;
    const recorded = await this.deps.store.readStream(this.streamName, fresh ? {} : { fromRevision: this.revision + 1 });
    let state: ReturnType<typeof agentDecider.initialState> = fresh ? agentDecider.initialState() : this.state;
    if (fresh) {
      this.recent.length = 0;
      this.open.clear();
    }
    for (const event of recorded) {
      state = agentDecider.evolve(state, { type: event.type, data: event.data } as AgentEvent);
      if (event.type === 'agent.decision-recorded') {
        const data = event.data as AgentDecisionRecorded['data'];
        if (data.actions.length > 0 && !this.open.has(data.decisionId)) this.open.set(data.decisionId, { eventId: event.eventId, data, hop: data.hop ?? event.metadata.hop });
        this.remember(data);
      }
    }
    this.state = state;
    if (recorded.length > 0) this.revision = recorded[recorded.length - 1].revision;
    for (const decisionId of [...this.open.keys()]) if (state === null || !Object.hasOwn(state.openDecisions, decisionId)) this.open.delete(decisionId);
  }

  /** Records a command on the agent's stream, deciding again on a conflict. */
  private async commit(command: AgentCommand, step: string, metadata: EventMetadata): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.appendOwn(agentDecider.decide(command, this.state, this.contextOf(metadata)), step, metadata, []);
        return;
      } catch (error: unknown) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
        await this.reloadState();
      }
    }
  }

  /** Appends the agent's events (if any) and the other writes of the same step in one commit; the cached state follows. */
  private async appendOwn(events: readonly AgentEvent[], step: string, metadata: EventMetadata, others: readonly AppendRequest[]): Promise<void> {
    const requests = [...(events.length > 0 ? [this.agentRequest(events, step, metadata)] : []), ...others];
    if (requests.length === 0) return;
    const results = await this.deps.store.appendMany(requests);
    if (events.length > 0) this.applyOwn(events, results[0].nextExpectedRevision);
  }

  private agentRequest(events: readonly AgentEvent[], step: string, metadata: EventMetadata): AppendRequest {
    return {
      streamName: this.streamName,
      events: events.map((event, n) => ({ eventId: runtimeEventId(`${this.agentId}\n${step}`, n), type: event.type, data: event.data, metadata })),
      expected: this.revision < 0 ? 'no_stream' : this.revision,
    };
  }

  private applyOwn(events: readonly AgentEvent[], nextRevision: number): void {
    this.state = events.reduce(agentDecider.evolve, this.state);
    this.revision = nextRevision;
  }

  private contextOf(metadata: EventMetadata): CommandContext {
    return {
      now: metadata.occurredAt,
      actor: metadata.actor,
      tenantId: this.tenantId,
      correlationId: metadata.correlationId,
      newId: () => {
        throw new Error('runtime commands carry their own ids');
      },
    };
  }

  private recordedContext(record: OpenDecisionRecord): RecordedDecisionContext {
    return {
      tenantId: this.tenantId,
      agent: this.state as DefinedAgentState,
      decisionId: record.data.decisionId,
      decisionEventId: record.eventId,
      correlationId: record.data.correlationId,
      hop: record.hop,
      input: record.data.input.payload as MailboxInput,
      now: this.deps.now,
    };
  }

  private async contextFor(agent: DefinedAgentState, batch: readonly InputItem[], inputs: readonly DecisionInput[]): Promise<DecisionContext> {
    const last = batch[batch.length - 1].entry;
    const input = inputs[inputs.length - 1];
    const base = {
      input,
      ...(inputs.length > 1 && { coalesced: inputs.slice(0, -1) }),
      memory: agent.memory,
      agent: { id: agent.id, name: agent.definition.name, kind: agent.definition.kind },
      chain: { correlationId: last.metadata.correlationId, hop: last.metadata.hop + 1 },
    };
    const mailboxInput = last.input;
    switch (mailboxInput.kind) {
      case 'event': {
        const stored = await this.storedEvent(mailboxInput.position, mailboxInput.ref);
        const view = stored !== undefined ? cloudEventViewOf(stored) : undefined;
        const subject = mailboxInput.subject;
        const entity = subject !== undefined ? await this.deps.entities.stateAt(this.tenantId, subject, mailboxInput.position) : null;
        return { ...base, ...(view !== undefined && { event: view }), entity };
      }
      case 'message':
        return { ...base, message: { from: mailboxInput.from.id, content: mailboxInput.content } };
      case 'agent-message':
        return { ...base, message: { from: mailboxInput.from, content: mailboxInput.content } };
      case 'task':
        return {
          ...base,
          message: { from: `trigger:${mailboxInput.triggerId}`, content: mailboxInput.task },
          task: { triggerId: mailboxInput.triggerId, firingId: mailboxInput.ref, context: mailboxInput.context ?? null },
        };
      default: {
        const unknownInput: never = mailboxInput;
        throw new Error(`Unknown mailbox input ${JSON.stringify(unknownInput)}`);
      }
    }
  }

  private async storedEvent(position: number, eventId: string): Promise<RecordedEvent | undefined> {
    const [event] = await this.deps.store.readAll({ after: position - 1, limit: 1 });
    return event !== undefined && event.eventId === eventId ? event : undefined;
  }

  /** The conversation's recent turns before `beforeMessageId`, newest last, within the character budget. */
  private async historyOf(conversationId: string, beforeMessageId: string): Promise<LlmTurn[]> {
    const recorded = await this.deps.store.readStream(streamName('conversation', conversationId, this.tenantId));
    const turns: LlmTurn[] = [];
    for (const event of recorded) {
      const data = event.data as { messageId?: string; content?: string; agentId?: string };
      if (event.type === 'conversation.message-posted') {
        if (data.messageId === beforeMessageId) break;
        turns.push({ role: 'user', content: data.content ?? '' });
      } else if (event.type === 'conversation.reply-recorded' && data.agentId === this.agentId) {
        turns.push({ role: 'assistant', content: data.content ?? '' });
      }
    }
    return this.withinBudget(turns);
  }

  /** Outside a conversation: the agent's latest inputs and what it decided on them, as turns. */
  private recentTurns(): LlmTurn[] {
    return this.withinBudget(
      this.recent.flatMap(({ input, actions }) => [
        { role: 'user' as const, content: `Earlier input (JSON):\n${JSON.stringify(input)}` },
        { role: 'assistant' as const, content: `Actions taken (JSON):\n${JSON.stringify(actions)}` },
      ]),
    );
  }

  private remember(decision: AgentDecisionRecorded['data']): void {
    this.recent.push({ input: decision.input.payload, actions: decision.actions.map(({ action }) => action) });
    if (this.recent.length > this.deps.historyMessages) this.recent.splice(0, this.recent.length - this.deps.historyMessages);
  }

  /**
   * The newest turns that fit: at most `historyMessages`, and at most `historyCharacters` in all (the
   * token budget, estimated at four characters per token: no tokenizer is downloaded).
   */
  private withinBudget(turns: readonly LlmTurn[]): LlmTurn[] {
    const kept: LlmTurn[] = [];
    let characters = 0;
    for (let i = turns.length - 1; i >= 0 && kept.length < this.deps.historyMessages; i -= 1) {
      characters += turns[i].content.length;
      if (characters > this.deps.historyCharacters) break;
      kept.unshift(turns[i]);
    }
    return kept;
  }
}

function toDecisionInput(entry: MailboxEntry): DecisionInput {
  return { kind: entry.input.kind, ref: entry.input.ref, payload: entry.input };
}

function engineOf(agent: DefinedAgentState): DecisionEngine {
  const engine = agent.definition.engine;
  return engine.type === 'rules' ? { type: 'rules' } : { type: 'llm', provider: engine.provider, model: engine.model };
}

function usageOf(command: AgentCommand): DecisionUsage {
  return command.type === 'RecordDecision' || command.type === 'RecordDecisionFailure' ? command.data.usage : ZERO_USAGE;
}

function describeExceeded(exceeded: BudgetExceeded): string {
  return `Chain budget exceeded: ${exceeded.reason} (limit ${exceeded.limit}, would be ${exceeded.used})`;
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;
