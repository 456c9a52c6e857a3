/**
 * The agent runtime core (router → mailboxes → AgentRuntime/AgentWorker → actions, chain budgets
 * and deadlines) against a real SQLite event store, with a scripted LLM engine whose answers the
 * tests hand out one by one, a webhook client that records its calls, and a clock the tests move.
 *
 * Crashes are simulated by running a runtime on a `CrashableProcess`: a view of the store that
 * dies at a chosen append (before or after it is written). From then on that runtime can neither
 * read nor write nor save its checkpoint — what a killed process leaves behind — and a new
 * AgentRuntime is started on the same store and checkpoint store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  agentDecider,
  conversationDecider,
  DEFAULT_TENANT_ID,
  streamName,
  type AgentAction,
  type AgentCommand,
  type AgentDecisionCancelled,
  type AgentDecisionFailed,
  type AgentDecisionRecorded,
  type AgentDefinitionInput,
  type AgentMessageSent,
  type AppendRequest,
  type AppendResult,
  type ChainHalted,
  type CommandContext,
  type ConversationApprovalRequested,
  type ConversationCommand,
  type DecisionInput,
  type DecisionUsage,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  type LlmEngine,
  type MailboxInputEnqueued,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
  type SubscriptionOptions,
} from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { DeciderCommandExecutor } from '../aggregates/decider-command.executor';
import { AgentRouter } from './agent-router';
import { AgentRuntime } from './agent-runtime';
import { InMemoryCheckpointStore, type CheckpointStore } from './checkpoint-store.port';
import type { LlmDecider, LlmDeciderFailure, LlmDeciderRequest, LlmDeciderResult } from './llm-decider.port';
import { RuntimeDeadlines } from './runtime-deadlines';
import { actionKey, actionOutputId, approvalsConversationId, cancelledDecisionId, decisionIdFor } from './runtime-ids';
import type { WebhookClient, WebhookRequest, WebhookResult } from './webhook-client.port';

const TENANT = DEFAULT_TENANT_ID;
const LLM: LlmEngine = { type: 'llm', provider: 'fake', model: 'scripted' };
const ALL_TOOLS = ['reply', 'send-message', 'emit-event', 'call-webhook', 'remember', 'propose'] as const;
const HOOK = 'https://hooks.example.test/orders';
const NO_USAGE: DecisionUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };

/* ------------------------------------------------------------------------------------------------ */
/* Test doubles                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/** The clock every component of the test reads; only the test moves it. */
class TestClock {
  private at = Date.parse('2026-03-02T09:00:00.000Z');
  readonly now = (): Date => new Date(this.at);
  advance(ms: number): void {
    this.at += ms;
  }
}

class LlmAborted extends Error {
  constructor(readonly reason: unknown) {
    super('the decision was aborted');
  }
}

/** One `decide` call of the scripted engine, waiting for the test to answer it. */
class LlmCall {
  private outcome: 'pending' | 'answered' | 'aborted' = 'pending';
  private resolveResult!: (result: LlmDeciderResult) => void;
  private rejectResult!: (error: unknown) => void;
  readonly result: Promise<LlmDeciderResult>;

  constructor(
    readonly agentId: string,
    readonly request: LlmDeciderRequest,
    readonly signal: AbortSignal | undefined,
    private readonly finished: () => void,
  ) {
    this.result = new Promise<LlmDeciderResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // Honour the signal the way a real engine does: stop and reject with an abort.
    const onAbort = () => this.settle('aborted', () => this.rejectResult(new LlmAborted(signal?.reason)));
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }

  get state(): 'pending' | 'answered' | 'aborted' {
    return this.outcome;
  }

  /** What the decision is about: the last input (the others are `coalesced`). */
  get input(): DecisionInput {
    return (this.request.input as { input: DecisionInput }).input;
  }

  get coalesced(): readonly DecisionInput[] {
    return (this.request.input as { coalesced?: DecisionInput[] }).coalesced ?? [];
  }

  /** Answers with these actions; a no-op once the call was aborted (the engine has stopped). */
  answer(actions: readonly AgentAction[], usage: DecisionUsage = NO_USAGE): boolean {
    return this.settle('answered', () => this.resolveResult({ output: { scripted: true, actions }, actions, usage }));
  }

  /** The engine fails (provider down, unusable answer). */
  fail(error: Error): boolean {
    return this.settle('answered', () => this.rejectResult(error));
  }

  private settle(outcome: 'answered' | 'aborted', effect: () => void): boolean {
    if (this.outcome !== 'pending') return false;
    this.outcome = outcome;
    this.finished();
    effect();
    return true;
  }
}

type Responder = (call: LlmCall) => readonly AgentAction[] | { actions: readonly AgentAction[]; usage: DecisionUsage } | 'hold';

/**
 * The LLM port, scripted: each call waits until the test (or a responder set per agent) answers
 * it, honours its AbortSignal, and counts calls and how many run at once.
 */
class ScriptedLlm implements LlmDecider {
  readonly calls: LlmCall[] = [];
  private readonly responders = new Map<string, Responder>();
  private readonly active = new Map<string, number>();
  private readonly maxActive = new Map<string, number>();
  private activeOverall = 0;
  maxActiveOverall = 0;

  /** Answers this agent's calls automatically ('hold' leaves a call for the test). */
  respond(agentId: string, responder: Responder): void {
    this.responders.set(agentId, responder);
  }

  decide(_engine: LlmEngine, request: LlmDeciderRequest, options: { readonly signal?: AbortSignal }): Promise<LlmDeciderResult> {
    const agentId = (request.input as { agent: { id: string } }).agent.id;
    const now = (this.active.get(agentId) ?? 0) + 1;
    this.active.set(agentId, now);
    this.maxActive.set(agentId, Math.max(this.maxActive.get(agentId) ?? 0, now));
    this.activeOverall += 1;
    this.maxActiveOverall = Math.max(this.maxActiveOverall, this.activeOverall);
    const call = new LlmCall(agentId, request, options.signal, () => {
      this.active.set(agentId, (this.active.get(agentId) ?? 1) - 1);
      this.activeOverall -= 1;
    });
    this.calls.push(call);
    const responder = this.responders.get(agentId);
    const answer = responder?.(call);
    if (answer !== undefined && answer !== 'hold') {
      if (Array.isArray(answer)) call.answer(answer as readonly AgentAction[]);
      else {
        const scripted = answer as { actions: readonly AgentAction[]; usage: DecisionUsage };
        call.answer(scripted.actions, scripted.usage);
      }
    }
    return call.result;
  }

  describeFailure(error: unknown): LlmDeciderFailure {
    if (error instanceof LlmAborted) return { code: 'LLM_ABORTED', message: error.message, aborted: true };
    return { code: 'LLM_ENGINE_ERROR', message: error instanceof Error ? error.message : String(error), aborted: false };
  }

  callsOf(agentId: string): LlmCall[] {
    return this.calls.filter((call) => call.agentId === agentId);
  }

  maxConcurrencyOf(agentId: string): number {
    return this.maxActive.get(agentId) ?? 0;
  }

  /** The `n`th call (0-based) for `agentId`, once it has been made. */
  nthCall(agentId: string, n: number): Promise<LlmCall> {
    return eventually(`LLM call #${n} of ${agentId}`, () => this.callsOf(agentId)[n]);
  }
}

/** Records every call; a test may hold calls until it releases them. */
class RecordingWebhooks implements WebhookClient {
  readonly calls: WebhookRequest[] = [];
  private hold: Promise<void> | null = null;
  private release: (() => void) | null = null;

  holdCalls(): void {
    this.hold = new Promise((resolve) => (this.release = resolve));
  }

  releaseCalls(): void {
    this.release?.();
    this.hold = null;
    this.release = null;
  }

  async call(request: WebhookRequest): Promise<WebhookResult> {
    this.calls.push(request);
    if (this.hold !== null) await this.hold;
    return { ok: true, status: 200, attempts: 1 };
  }
}

class ProcessCrashed extends Error {
  constructor() {
    super('the process crashed');
  }
}

type CrashPoint = { readonly moment: 'before' | 'after'; readonly when: (requests: readonly AppendRequest[]) => boolean };

/**
 * The store as one runtime process sees it. `crash()` (or a crash point reached by an append) kills
 * the process: every later read, write, delivery and checkpoint save fails, as if it had been
 * killed. "after" means the append was committed and the process died before hearing about it.
 */
class CrashableProcess implements EventStore {
  private dead = false;
  private crashPoint: CrashPoint | null = null;
  private transient: CrashPoint | null = null;
  private readonly subscriptions: Subscription[] = [];
  readonly checkpoints: CheckpointStore;

  constructor(
    private readonly inner: EventStore,
    durable: CheckpointStore,
  ) {
    this.checkpoints = {
      load: (name) => this.alive(() => durable.load(name)),
      save: (name, position) => this.alive(() => durable.save(name, position)),
    };
  }

  get crashed(): boolean {
    return this.dead;
  }

  crashAt(point: CrashPoint): void {
    this.crashPoint = point;
  }

  /** The next matching append fails once, as a busy or briefly unreachable store does; nothing dies. */
  failOnce(point: CrashPoint): void {
    this.transient = point;
  }

  crash(): void {
    if (this.dead) return;
    this.dead = true;
    for (const subscription of this.subscriptions) void subscription.stop();
  }

  append(name: string, events: readonly NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    return this.alive(() => this.inner.append(name, events, options));
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    if (this.dead) throw new ProcessCrashed();
    if (this.transient !== null && this.transient.when(requests)) {
      this.transient = null;
      throw new Error('SQLITE_BUSY: database is locked');
    }
    const point = this.crashPoint;
    const hit = point !== null && point.when(requests);
    if (hit && point.moment === 'before') {
      this.crash();
      throw new ProcessCrashed();
    }
    const results = await this.inner.appendMany(requests);
    if (hit || this.dead) {
      this.crash();
      throw new ProcessCrashed();
    }
    return results;
  }

  readStream(name: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.alive(() => this.inner.readStream(name, options));
  }

  streamRevision(name: string): Promise<number | null> {
    return this.alive(() => this.inner.streamRevision(name));
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.alive(() => this.inner.readAll(options));
  }

  findExistingEventIds(ids: readonly string[]): Promise<Set<string>> {
    return this.alive(() => this.inner.findExistingEventIds(ids));
  }

  headPosition(): Promise<GlobalPosition> {
    return this.alive(() => this.inner.headPosition());
  }

  subscribe(handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription {
    const subscription = this.inner.subscribe(
      {
        onEvents: (events) => {
          if (this.dead) throw new ProcessCrashed();
          return handler.onEvents(events);
        },
        onCaughtUp: (position) => {
          if (!this.dead) handler.onCaughtUp?.(position);
        },
        onError: (error) => handler.onError?.(error),
      },
      options,
    );
    this.subscriptions.push(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    // The store belongs to the test, not to the process.
  }

  private async alive<T>(operation: () => Promise<T>): Promise<T> {
    if (this.dead) throw new ProcessCrashed();
    return operation();
  }
}

/** Appends whose events include one of this type (and, optionally, this action index). */
const appending =
  (type: string, index?: number) =>
  (requests: readonly AppendRequest[]): boolean =>
    requests.some((request) => request.events.some((event) => event.type === type && (index === undefined || (event.data as { index?: number }).index === index)));

/* ------------------------------------------------------------------------------------------------ */
/* Helpers                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Long enough for a runtime that would wrongly act to have done so (delivery is immediate in-process). */
const QUIET_PERIOD_MS = 150;

type Data<E> = E extends { data: infer D } ? D : never;

/* ------------------------------------------------------------------------------------------------ */
/* Harness                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

interface Harness {
  readonly store: SqliteEventStore;
  readonly clock: TestClock;
  readonly llm: ScriptedLlm;
  readonly webhooks: RecordingWebhooks;
  /** The durable checkpoints every runtime of the test shares. */
  readonly checkpoints: InMemoryCheckpointStore;
  readonly router: AgentRouter;
  readonly deadlines: RuntimeDeadlines;
}

describe('Agent runtime core (SQLite event store)', () => {
  let dir: string;
  let h: Harness;
  /** The runtime the test is currently running (a crashed or stopped one is replaced). */
  let runtime: AgentRuntime;
  const runtimes: AgentRuntime[] = [];
  const loggedErrors: { message: string; fields: Record<string, unknown> }[] = [];
  const deadlineRunners: RuntimeDeadlines[] = [];
  const executor = () => new DeciderCommandExecutor(h.store);

  async function startRuntime(crashable?: CrashableProcess, retryDelayMs?: number): Promise<AgentRuntime> {
    const started = new AgentRuntime({
      store: crashable ?? h.store,
      checkpoints: crashable?.checkpoints ?? h.checkpoints,
      webhooks: h.webhooks,
      llm: h.llm,
      now: h.clock.now,
      // A crashed process must stay dead: no retry within the test.
      retryDelayMs: retryDelayMs ?? (crashable !== undefined ? 60_000 : 50),
      // A runtime that logs an error retries something it should not have to: the test fails (crashed processes aside).
      logger: { info: () => undefined, warn: () => undefined, error: (fields, message) => (crashable === undefined ? loggedErrors.push({ message, fields }) : undefined) },
    });
    runtimes.push(started);
    await started.start();
    return started;
  }

  async function startDeadlines(): Promise<RuntimeDeadlines> {
    const deadlines = new RuntimeDeadlines({ store: h.store, now: h.clock.now, intervalMs: 0 });
    deadlineRunners.push(deadlines);
    await deadlines.start();
    return deadlines;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-runtime-'));
    const store = new SqliteEventStore(join(dir, 'events.db'), { retryInitialDelayMs: 10, pollIntervalMs: 20, synchronous: 'NORMAL' });
    const clock = new TestClock();
    const checkpoints = new InMemoryCheckpointStore();
    const router = new AgentRouter({ store, checkpoints, now: () => clock.now().toISOString() });
    await router.start();
    const deadlines = new RuntimeDeadlines({ store, now: clock.now, intervalMs: 0 });
    deadlineRunners.push(deadlines);
    await deadlines.start();
    h = { store, clock, llm: new ScriptedLlm(), webhooks: new RecordingWebhooks(), checkpoints, router, deadlines };
    runtime = await startRuntime();
  });

  afterEach(async () => {
    const errors = loggedErrors.splice(0);
    h.webhooks.releaseCalls();
    for (const call of h.llm.calls) call.answer([]);
    for (const started of runtimes.splice(0)) await started.stop();
    for (const deadlines of deadlineRunners.splice(0)) await deadlines.stop();
    await h.router.stop();
    await h.store.close();
    rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  /* Commands, as the gateway issues them ----------------------------------------------------------- */

  function context(correlationId: string, newId: () => string = randomUUID): CommandContext {
    return { now: h.clock.now().toISOString(), actor: { kind: 'user', id: 'operator' }, tenantId: TENANT, correlationId, newId };
  }

  async function agentCommand(agentId: string, command: AgentCommand, correlationId: string = randomUUID()): Promise<void> {
    await executor().execute({ decider: agentDecider, streamName: streamName('agent', agentId, TENANT), command, context: context(correlationId) });
  }

  async function define(agentId: string, definition: Partial<AgentDefinitionInput> = {}): Promise<void> {
    await agentCommand(agentId, {
      type: 'DefineAgent',
      data: { agentId, definition: { name: agentId, kind: 'custom', engine: LLM, tools: [...ALL_TOOLS], ...definition } },
    });
  }

  const pause = (agentId: string) => agentCommand(agentId, { type: 'PauseAgent', data: { agentId } });
  const resume = (agentId: string) => agentCommand(agentId, { type: 'ResumeAgent', data: { agentId } });
  const retire = (agentId: string) => agentCommand(agentId, { type: 'RetireAgent', data: { agentId } });

  /** A person's direct message to an agent (its own chain unless `correlationId` is given); returns the message id. */
  async function send(agentId: string, content: string, correlationId?: string): Promise<string> {
    const messageId = randomUUID();
    await agentCommand(agentId, { type: 'ReceiveMessage', data: { agentId, messageId, from: { kind: 'user', id: 'ana' }, content } }, correlationId ?? messageId);
    return messageId;
  }

  async function conversation(command: ConversationCommand, correlationId: string = randomUUID()): Promise<void> {
    const conversationId = command.data.conversationId;
    await executor().execute({ decider: conversationDecider, streamName: streamName('conversation', conversationId, TENANT), command, context: context(correlationId) });
  }

  /* Reading the store ------------------------------------------------------------------------------ */

  const read = (stream: string) => h.store.readStream(stream);
  const agentStream = (agentId: string) => read(streamName('agent', agentId, TENANT));
  const ofType = <D>(events: readonly RecordedEvent[], type: string) => events.filter((event) => event.type === type) as RecordedEvent<string, D>[];

  const decisions = async (agentId: string) => ofType<Data<AgentDecisionRecorded>>(await agentStream(agentId), 'agent.decision-recorded');
  const failures = async (agentId: string) => ofType<Data<AgentDecisionFailed>>(await agentStream(agentId), 'agent.decision-failed');
  const cancellations = async (agentId: string) => ofType<Data<AgentDecisionCancelled>>(await agentStream(agentId), 'agent.decision-cancelled');
  const sent = async (agentId: string) => ofType<Data<AgentMessageSent>>(await agentStream(agentId), 'agent.message-sent');
  const actionResults = async (agentId: string) =>
    (await agentStream(agentId)).filter((event) => event.type === 'agent.action-executed' || event.type === 'agent.action-failed') as RecordedEvent<
      string,
      { decisionId: string; index: number; action: string; result?: Record<string, unknown>; error?: unknown }
    >[];
  const mailbox = async (agentId: string) => (await read(streamName('mailbox', agentId, TENANT))) as RecordedEvent<string, MailboxInputEnqueued['data']>[];
  const chainEvents = (correlationId: string) => read(streamName('chain', correlationId, TENANT));
  const halts = async (correlationId: string) => ofType<ChainHalted['data']>(await chainEvents(correlationId), 'chain.halted');

  /** Every decided, failed or cancelled decision of an agent, as the refs of the inputs it covered. */
  const refsOf = (data: { input: DecisionInput; coalesced?: readonly DecisionInput[] }) => [...(data.coalesced ?? []).map((input) => input.ref), data.input.ref];

  /** Waits until every action of every decision of the agent has a recorded result. */
  async function settled(agentId: string, expectedDecisions: number): Promise<void> {
    await eventually(`${expectedDecisions} settled decision(s) of ${agentId}`, async () => {
      const recorded = await decisions(agentId);
      const results = await actionResults(agentId);
      if (recorded.length < expectedDecisions) return undefined;
      return recorded.every((d) => d.data.actions.every((a) => results.some((r) => r.data.decisionId === d.data.decisionId && r.data.index === a.index)));
    });
  }

  /** Every (decisionId, index) of the agent has at most one recorded result. */
  async function expectEachActionRecordedOnce(agentId: string): Promise<void> {
    const keys = (await actionResults(agentId)).map((event) => `${event.data.decisionId}:${event.data.index}`);
    expect(keys).toEqual([...new Set(keys)]);
  }

  /** Every input in the agent's mailbox is covered by exactly one recorded or failed decision. */
  async function expectEachInputDecidedOnce(agentId: string): Promise<void> {
    const covered = [...(await decisions(agentId)), ...(await failures(agentId))].flatMap((event) => refsOf(event.data));
    const inputs = (await mailbox(agentId)).map((entry) => entry.data.input.ref);
    expect([...covered].sort()).toEqual([...inputs].sort());
  }

  /* ------------------------------------------------------------------------------------------------ */
  /* 1–3. Mailbox policies                                                                              */
  /* ------------------------------------------------------------------------------------------------ */

  describe('mailbox policies', () => {
    it('an LLM decision outside a conversation sees the chain and the agent\'s earlier inputs with what it did about them, newest last', async () => {
      // Given an agent that already decided on two messages
      await define('historian');
      h.llm.respond('historian', (call) => [{ action: 'remember', key: 'last', value: (call.request.input as { message: { content: string } }).message.content }]);
      await send('historian', 'first', 'chain-h1');
      await settled('historian', 1);
      await send('historian', 'second', 'chain-h2');
      await settled('historian', 2);

      // When a third message arrives
      await send('historian', 'third', 'chain-h3');
      await settled('historian', 3);

      // Then its model call got the two earlier inputs and their actions as turns, and the chain
      const call = await h.llm.nthCall('historian', 2);
      const history = call.request.history ?? [];
      expect(history.map((turn) => turn.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
      expect(history[0].content).toContain('"content":"first"');
      expect(history[1].content).toContain('"value":"first"');
      expect(history[2].content).toContain('"content":"second"');
      expect((call.request.input as { chain: unknown }).chain).toEqual({ correlationId: 'chain-h3', hop: 1 });
    });

    it('queue: inputs that arrive while a decision runs are decided one by one, in mailbox order; two agents decide at the same time', async () => {
      // Given two agents with the queue policy, and a first decision of agent A running
      await define('queue-a', { mailboxPolicy: 'queue' });
      await define('queue-b', { mailboxPolicy: 'queue' });
      const m1 = await send('queue-a', 'first');
      const first = await h.llm.nthCall('queue-a', 0);

      // When three more inputs reach A, and one reaches B, while A's first decision runs
      const later = [await send('queue-a', 'second'), await send('queue-a', 'third'), await send('queue-a', 'fourth')];
      const b1 = await send('queue-b', 'for b');
      const bCall = await h.llm.nthCall('queue-b', 0);

      // Then B decides while A is still deciding: agents run concurrently
      expect(first.state).toBe('pending');
      expect(bCall.input.ref).toBe(b1);
      expect(h.llm.maxActiveOverall).toBe(2);
      await eventually('the three inputs handed to A', () => runtime.backlog === 5 || undefined);
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.callsOf('queue-a')).toHaveLength(1);

      // And A's queued inputs are decided one at a time, in mailbox order, each on its own
      first.answer([{ action: 'remember', key: 'seen', value: 'first' }]);
      for (const [n, ref] of later.entries()) {
        const call = await h.llm.nthCall('queue-a', n + 1);
        expect(call.input.ref).toBe(ref);
        expect(call.coalesced).toEqual([]);
        await sleep(20);
        expect(h.llm.callsOf('queue-a')).toHaveLength(n + 2);
        call.answer([]);
      }
      bCall.answer([]);
      await settled('queue-a', 4);
      const recorded = await decisions('queue-a');
      expect(recorded.map((d) => d.data.input.ref)).toEqual([m1, ...later]);
      expect(recorded.map((d) => d.data.mailboxRevision)).toEqual([0, 1, 2, 3]);
      expect(recorded.every((d) => d.data.coalesced === undefined)).toBe(true);
      expect(h.llm.maxConcurrencyOf('queue-a')).toBe(1);
      expect(h.llm.maxConcurrencyOf('queue-b')).toBe(1);
      expect(h.llm.callsOf('queue-a')).toHaveLength(4);
      await expectEachInputDecidedOnce('queue-a');
    });

    it('coalesce: the inputs that arrive while a decision runs become one next decision, listing the earlier ones', async () => {
      // Given an agent with the coalesce policy deciding on a first input
      await define('coalescer', { mailboxPolicy: 'coalesce' });
      const m1 = await send('coalescer', 'one');
      const first = await h.llm.nthCall('coalescer', 0);

      // When two more inputs arrive while it decides
      const m2 = await send('coalescer', 'two');
      const m3 = await send('coalescer', 'three');
      await eventually('both handed to the agent', () => runtime.backlog === 3 || undefined);
      first.answer([]);

      // Then the next decision covers both: the last one is the input, the earlier one is coalesced
      const second = await h.llm.nthCall('coalescer', 1);
      expect(second.input.ref).toBe(m3);
      expect(second.coalesced.map((input) => input.ref)).toEqual([m2]);
      second.answer([{ action: 'remember', key: 'batch', value: 2 }]);
      await settled('coalescer', 2);
      const recorded = await decisions('coalescer');
      expect(recorded.map((d) => d.data.input.ref)).toEqual([m1, m3]);
      expect(recorded[0].data.coalesced).toBeUndefined();
      expect(recorded[1].data.coalesced?.map((input) => input.ref)).toEqual([m2]);
      expect(recorded[1].data.coalesced?.[0]).toMatchObject({ kind: 'message', payload: { kind: 'message', content: 'two' } });
      expect(recorded[1].data.mailboxRevision).toBe(2);
      expect(h.llm.calls).toHaveLength(2);
      await expectEachInputDecidedOnce('coalescer');
    });

    it('interrupt: a newer input aborts the LLM decision in flight, which is recorded as cancelled; the next decision covers both', async () => {
      // Given an agent with the interrupt policy whose LLM decision on a first input runs
      await define('interrupter', { mailboxPolicy: 'interrupt' });
      const m1 = await send('interrupter', 'one');
      const first = await h.llm.nthCall('interrupter', 0);

      // When a second input arrives
      const m2 = await send('interrupter', 'two');

      // Then the running call is aborted, and its answer (had it come) is not taken
      await eventually('the abort', () => first.state === 'aborted' || undefined);
      expect(first.signal?.aborted).toBe(true);
      expect(first.answer([{ action: 'call-webhook', url: HOOK, body: { from: 'cancelled' } }])).toBe(false);

      // And the next decision covers both inputs, the interrupting one last
      const second = await h.llm.nthCall('interrupter', 1);
      expect(second.input.ref).toBe(m2);
      expect(second.coalesced.map((input) => input.ref)).toEqual([m1]);
      second.answer([{ action: 'remember', key: 'seen', value: 'both' }]);
      await settled('interrupter', 1);

      const entries = await mailbox('interrupter');
      const cancelledId = cancelledDecisionId(decisionIdFor('interrupter', entries[0].eventId), entries[1].eventId);
      const [cancelled] = await cancellations('interrupter');
      expect(cancelled.data).toMatchObject({ decisionId: cancelledId, input: { ref: m1 }, interruptedBy: entries[1].eventId });
      const recorded = await decisions('interrupter');
      expect(recorded).toHaveLength(1);
      expect(recorded[0].data).toMatchObject({ decisionId: decisionIdFor('interrupter', entries[1].eventId), input: { ref: m2 }, coalesced: [{ ref: m1 }] });
      // The cancelled decision's actions never run, and nothing is recorded for it.
      expect(h.webhooks.calls).toEqual([]);
      expect((await actionResults('interrupter')).map((r) => r.data.decisionId)).toEqual([recorded[0].data.decisionId]);
      expect(await failures('interrupter')).toEqual([]);
      await expectEachInputDecidedOnce('interrupter');
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* 4. Crash safety                                                                                    */
  /* ------------------------------------------------------------------------------------------------ */

  describe('crash safety', () => {
    /** Replaces the test's runtime with one running on a process that can crash. */
    async function crashableRuntime(): Promise<CrashableProcess> {
      await runtime.stop();
      const crashable = new CrashableProcess(h.store, h.checkpoints);
      runtime = await startRuntime(crashable);
      return crashable;
    }

    it('a worker idle long enough is dropped from memory; the agent decides correctly on its next input', async () => {
      // Given an agent that decided once and remembered something
      await define('sleeper');
      h.llm.respond('sleeper', (call) => [{ action: 'remember', key: 'seen', value: (call.request.input as { message: { content: string } }).message.content }]);
      await send('sleeper', 'first');
      await settled('sleeper', 1);
      const before = runtime.workerCount;

      // When its worker has been idle past the limit
      await runtime.evictIdleWorkers(Date.now() + 60 * 60_000);
      expect(runtime.workerCount).toBeLessThan(before);

      // Then the next input is decided on the agent's state as stored (its memory included), once
      await send('sleeper', 'second');
      await settled('sleeper', 2);
      const second = await h.llm.nthCall('sleeper', 1);
      expect((second.request.input as { memory: unknown }).memory).toEqual({ seen: 'first' });
      await expectEachInputDecidedOnce('sleeper');
    });

    it('stopped gracefully between two actions: the next runtime runs what is left, without any new input', async () => {
      // Given a decision whose first action (a webhook) is in flight when the runtime is stopped
      await define('graceful');
      h.llm.respond('graceful', () => [
        { action: 'call-webhook', url: HOOK, body: { n: 1 } },
        { action: 'remember', key: 'after-webhook', value: true },
      ]);
      h.webhooks.holdCalls();
      await send('graceful', 'go');
      await eventually('the webhook in flight', () => h.webhooks.calls.length === 1 || undefined);
      const stopping = runtime.stop();
      h.webhooks.releaseCalls();
      await stopping;
      expect((await actionResults('graceful')).map((r) => r.data.index)).toEqual([0]);

      // When a new runtime starts (and nothing new arrives)
      runtime = await startRuntime();

      // Then the remaining action runs, once; the webhook is not called again, the engine not asked again
      await settled('graceful', 1);
      expect((await actionResults('graceful')).map((r) => r.data.index)).toEqual([0, 1]);
      expect(h.webhooks.calls).toHaveLength(1);
      expect(h.llm.callsOf('graceful')).toHaveLength(1);
    });

    it('a store error after the model answered does not ask the model again: the answer is recorded on the retry', async () => {
      // Given a store that fails the first time the decision is recorded
      await define('flaky-store');
      const crashable = new CrashableProcess(h.store, h.checkpoints);
      await runtime.stop();
      runtime = await startRuntime(crashable, 50);
      h.llm.respond('flaky-store', () => [{ action: 'remember', key: 'k', value: 'v' }]);
      crashable.failOnce({ moment: 'before', when: appending('agent.decision-recorded') });
      await send('flaky-store', 'go');

      // Then the decision is recorded (after a retry) with one model call
      await eventually('the recorded decision', async () => ((await decisions('flaky-store')).length === 1) || undefined, 20_000);
      expect(h.llm.callsOf('flaky-store')).toHaveLength(1);
      await settled('flaky-store', 1);
    });

    it('crashed after the decision is recorded, before any action: a new runtime runs the actions from the record, without asking the engine again', async () => {
      // Given a process that dies right after the decision is committed
      await define('crash-1');
      const crashable = await crashableRuntime();
      crashable.crashAt({ moment: 'after', when: appending('agent.decision-recorded') });
      h.llm.respond('crash-1', () => [
        { action: 'call-webhook', url: HOOK, body: { n: 1 } },
        { action: 'remember', key: 'done', value: true },
      ]);
      const m1 = await send('crash-1', 'go');
      await eventually('the crash', () => crashable.crashed || undefined);
      expect(await decisions('crash-1')).toHaveLength(1);
      expect(await actionResults('crash-1')).toEqual([]);
      expect(h.webhooks.calls).toEqual([]);

      // When a new runtime starts on the same store and checkpoints
      runtime = await startRuntime();
      await settled('crash-1', 1);

      // Then the input was decided once, each action ran and was recorded once
      const [decision] = await decisions('crash-1');
      expect(decision.data.input.ref).toBe(m1);
      expect(h.llm.callsOf('crash-1')).toHaveLength(1);
      expect(h.webhooks.calls.map((call) => call.idempotencyKey)).toEqual([actionKey(decision.data.decisionId, 0)]);
      expect((await actionResults('crash-1')).map((r) => [r.type, r.data.index])).toEqual([
        ['agent.action-executed', 0],
        ['agent.action-executed', 1],
      ]);
      expect(ofType(await agentStream('crash-1'), 'agent.memory-updated')).toHaveLength(1);
      await expectEachInputDecidedOnce('crash-1');
      await expectEachActionRecordedOnce('crash-1');
    });

    it('crashed after some actions were recorded: only the unsettled ones run; a recorded webhook is not called again', async () => {
      // Given a process that dies once the webhook's (action 1) outcome is committed
      await define('crash-2');
      const crashable = await crashableRuntime();
      crashable.crashAt({ moment: 'after', when: appending('agent.action-executed', 1) });
      h.llm.respond('crash-2', () => [
        { action: 'remember', key: 'step', value: 1 },
        { action: 'call-webhook', url: HOOK, body: { n: 2 } },
        { action: 'emit-event', eventType: 'order.flagged', subject: 'order-2', data: { why: 'big' } },
      ]);
      await send('crash-2', 'go');
      await eventually('the crash', () => crashable.crashed || undefined);
      expect((await actionResults('crash-2')).map((r) => r.data.index)).toEqual([0, 1]);

      // When a new runtime starts
      runtime = await startRuntime();
      await settled('crash-2', 1);

      // Then only the emit-event ran; the webhook was called once in all
      const [decision] = await decisions('crash-2');
      expect(h.llm.callsOf('crash-2')).toHaveLength(1);
      expect(h.webhooks.calls.map((call) => call.idempotencyKey)).toEqual([actionKey(decision.data.decisionId, 1)]);
      expect((await actionResults('crash-2')).map((r) => r.data.index)).toEqual([0, 1, 2]);
      const emitted = await h.store.readAll({ filter: { types: ['order.flagged'] } });
      expect(emitted).toHaveLength(1);
      expect(ofType(await agentStream('crash-2'), 'agent.memory-updated')).toHaveLength(1);
      await expectEachActionRecordedOnce('crash-2');
      await expectEachInputDecidedOnce('crash-2');
    });

    it('crashed after calling a webhook, before its outcome was recorded: the webhook is called again with the same idempotency key', async () => {
      // Given a process that dies while recording the webhook's outcome (nothing of it is stored)
      await define('crash-3');
      const crashable = await crashableRuntime();
      crashable.crashAt({ moment: 'before', when: appending('agent.action-executed', 0) });
      h.llm.respond('crash-3', () => [
        { action: 'call-webhook', url: HOOK, body: { n: 3 } },
        { action: 'remember', key: 'after', value: 'hook' },
      ]);
      await send('crash-3', 'go');
      await eventually('the crash', () => crashable.crashed || undefined);
      expect(h.webhooks.calls).toHaveLength(1);
      expect(await actionResults('crash-3')).toEqual([]);

      // When a new runtime starts
      runtime = await startRuntime();
      await settled('crash-3', 1);

      // Then the webhook was called again, with the same key, and its outcome recorded once
      const [decision] = await decisions('crash-3');
      const key = actionKey(decision.data.decisionId, 0);
      expect(h.webhooks.calls.map((call) => call.idempotencyKey)).toEqual([key, key]);
      expect(h.llm.callsOf('crash-3')).toHaveLength(1);
      expect((await actionResults('crash-3')).map((r) => r.data.index)).toEqual([0, 1]);
      await expectEachActionRecordedOnce('crash-3');
    });

    it('crashed in the middle of an LLM call: a new runtime decides that input once; inputs already decided are not decided again', async () => {
      // Given a first input fully decided, and the LLM call for a second one running when the process dies
      await define('crash-4');
      const crashable = await crashableRuntime();
      const m1 = await send('crash-4', 'one');
      (await h.llm.nthCall('crash-4', 0)).answer([{ action: 'remember', key: 'one', value: 1 }]);
      await settled('crash-4', 1);
      const m2 = await send('crash-4', 'two');
      const stale = await h.llm.nthCall('crash-4', 1);
      crashable.crash();

      // When a new runtime starts (the mailbox is delivered again from the checkpoint the dead one saved)
      runtime = await startRuntime();

      // Then the engine is asked again for the second input only
      const retry = await h.llm.nthCall('crash-4', 2);
      expect(retry.input.ref).toBe(m2);
      retry.answer([{ action: 'remember', key: 'two', value: 2 }]);
      await settled('crash-4', 2);
      // And the dead process's late answer changes nothing
      stale.answer([{ action: 'call-webhook', url: HOOK }]);
      await sleep(QUIET_PERIOD_MS);

      expect(h.llm.calls.map((call) => call.input.ref)).toEqual([m1, m2, m2]);
      expect((await decisions('crash-4')).map((d) => d.data.input.ref)).toEqual([m1, m2]);
      expect(h.webhooks.calls).toEqual([]);
      await expectEachInputDecidedOnce('crash-4');
      await expectEachActionRecordedOnce('crash-4');
    });

    it('crashed right after an interrupted decision was recorded as cancelled: a new runtime still decides both inputs, once each', async () => {
      // Given an interrupt agent whose process dies as soon as the cancellation is committed
      await define('crash-5', { mailboxPolicy: 'interrupt' });
      const crashable = await crashableRuntime();
      crashable.crashAt({ moment: 'after', when: appending('agent.decision-cancelled') });
      const m1 = await send('crash-5', 'one');
      const first = await h.llm.nthCall('crash-5', 0);
      const m2 = await send('crash-5', 'two');
      await eventually('the crash', () => crashable.crashed || undefined);
      expect(first.state).toBe('aborted');
      expect(await cancellations('crash-5')).toHaveLength(1);

      // When a new runtime starts
      h.llm.respond('crash-5', (call) => [{ action: 'remember', key: call.input.ref, value: true }]);
      runtime = await startRuntime();

      // Then no input is lost: every input is covered by exactly one recorded decision
      await eventually('both inputs decided', async () => {
        const covered = (await decisions('crash-5')).flatMap((d) => refsOf(d.data));
        return covered.includes(m1) && covered.includes(m2) ? true : undefined;
      });
      await settled('crash-5', (await decisions('crash-5')).length);
      await expectEachInputDecidedOnce('crash-5');
      await expectEachActionRecordedOnce('crash-5');
      // And the ledger keeps the cancelled attempt apart from the decision that replaced it
      const [cancelled] = await cancellations('crash-5');
      expect((await decisions('crash-5')).map((d) => d.data.decisionId)).not.toContain(cancelled.data.decisionId);
    });

    it('an approval resolved while no runtime runs is acted on by the next one, once, with the proposal idempotency key', async () => {
      // Given a proposed webhook call waiting for approval, and the runtime stopped
      await define('approved-offline', { tools: ['propose'] });
      h.llm.respond('approved-offline', () => [{ action: 'propose', proposed: { action: 'call-webhook', url: HOOK, body: { offline: true } } }]);
      await send('approved-offline', 'refund');
      const approvalsConversation = approvalsConversationId('approved-offline');
      await eventually('the approval request', async () =>
        ofType(await read(streamName('conversation', approvalsConversation, TENANT)), 'conversation.approval-requested').length === 1 || undefined,
      );
      await runtime.whenIdle();
      await runtime.stop();
      const [decision] = await decisions('approved-offline');

      // When a person approves it, and then a runtime starts
      const approvalId = actionOutputId(decision.data.decisionId, 0);
      await conversation({ type: 'ResolveApproval', data: { conversationId: approvalsConversation, approvalId, decision: 'approve' } });
      runtime = await startRuntime();

      // Then the approved webhook is called once, with the proposal's key, and recorded once
      await settled('approved-offline', 1);
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls.map((call) => call.idempotencyKey)).toEqual([actionKey(decision.data.decisionId, 0)]);
      expect(h.llm.calls).toHaveLength(1);
      await expectEachActionRecordedOnce('approved-offline');
    });

    it('a lost checkpoint re-delivers the whole mailbox: nothing is decided or acted on twice', async () => {
      // Given inputs decided and acted on by a runtime that is then stopped
      await define('redelivered');
      h.llm.respond('redelivered', (call) => [{ action: 'call-webhook', url: HOOK, body: { ref: call.input.ref } }]);
      await send('redelivered', 'one');
      await send('redelivered', 'two');
      await settled('redelivered', 2);
      await runtime.stop();

      // When a runtime starts with no checkpoint at all
      runtime = new AgentRuntime({ store: h.store, checkpoints: new InMemoryCheckpointStore(), webhooks: h.webhooks, llm: h.llm, now: h.clock.now, checkpointName: 'fresh' });
      runtimes.push(runtime);
      await runtime.start();
      const last = (await mailbox('redelivered')).at(-1)?.position ?? Number.POSITIVE_INFINITY;
      await eventually('the re-delivered mailbox handed over', () => runtime.position >= last || undefined);
      await runtime.whenIdle();
      await sleep(QUIET_PERIOD_MS);

      // Then nothing more happened
      expect(h.llm.calls).toHaveLength(2);
      expect(h.webhooks.calls).toHaveLength(2);
      expect(await decisions('redelivered')).toHaveLength(2);
      await expectEachActionRecordedOnce('redelivered');
    });

    it('stopped gracefully in the middle of an LLM call: nothing is recorded for the input, and the next runtime decides it once', async () => {
      // Given an LLM call running
      await define('stopped');
      const m1 = await send('stopped', 'one');
      const first = await h.llm.nthCall('stopped', 0);

      // When the runtime stops, then a new one starts
      await runtime.stop();
      expect(first.state).toBe('aborted');
      expect(await failures('stopped')).toEqual([]);
      expect(await cancellations('stopped')).toEqual([]);
      runtime = await startRuntime();

      // Then the input is decided once, by the new runtime
      const second = await h.llm.nthCall('stopped', 1);
      expect(second.input.ref).toBe(m1);
      second.answer([]);
      await eventually('the decision', async () => ((await decisions('stopped')).length === 1 ? true : undefined));
      await expectEachInputDecidedOnce('stopped');
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* 5. Budgets                                                                                         */
  /* ------------------------------------------------------------------------------------------------ */

  describe('chain budgets', () => {
    it('an input none of a rules agent\'s rules match is no step of its chain: it does not count, and cannot halt it', async () => {
      // Given a rules agent allowed one decision per chain, which already decided once in chain-picky
      await define('picky', {
        engine: { type: 'rules', rules: [{ when: { '==': [{ var: 'message.content' }, 'yes'] }, then: [{ action: 'remember', key: 'k', value: 'v' }] }] },
        tools: ['remember'],
        budgets: { maxDecisionsPerChain: 1 },
      });
      await send('picky', 'yes', 'chain-picky');
      await settled('picky', 1);

      // When another input of the same chain matches no rule
      await send('picky', 'no', 'chain-picky');
      await h.router.waitUntilProcessed(await h.store.headPosition());
      await runtime.whenIdle();

      // Then nothing is recorded for it and the chain is not halted
      expect(await decisions('picky')).toHaveLength(1);
      expect(await failures('picky')).toEqual([]);
      expect((await chainEvents('chain-picky')).map((e) => e.type)).toEqual(['chain.decision-counted']);
    });

    /** Two agents that answer every message by messaging the other. */
    async function pingPong(budgets: AgentDefinitionInput['budgets']): Promise<void> {
      await define('ping', { budgets });
      await define('pong', { budgets });
      h.llm.respond('ping', () => [{ action: 'send-message', to: 'pong', content: 'ping' }]);
      h.llm.respond('pong', () => [{ action: 'send-message', to: 'ping', content: 'pong' }]);
    }

    const allFailures = async () => [...(await failures('ping')), ...(await failures('pong'))];

    it('the hop limit halts the chain once; a later input of the chain fails CHAIN_HALTED without calling the engine', async () => {
      // Given two agents messaging each other, with at most 2 hops
      await pingPong({ maxHops: 2, maxDecisionsPerChain: 50 });

      // When a person starts a chain
      await send('ping', 'serve', 'chain-hops');

      // Then the third step (hop 3) is not taken: the chain halts with max-hops
      const [failed] = await eventually('the failed decision', async () => {
        const all = await allFailures();
        return all.length > 0 ? all : undefined;
      });
      expect(failed.data).toMatchObject({ agentId: 'ping', error: { code: 'CHAIN_BUDGET_EXCEEDED' }, hop: 3, correlationId: 'chain-hops' });
      expect(h.llm.calls).toHaveLength(2);
      expect((await halts('chain-hops')).map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'max-hops', limit: 2, used: 3, agentId: 'ping' })]);

      // When another input of the same chain arrives
      await send('pong', 'more', 'chain-hops');

      // Then it fails CHAIN_HALTED, without an engine call, and the chain is not halted again
      const halted = await eventually('the CHAIN_HALTED failure', async () => (await failures('pong')).find((f) => f.data.error.code === 'CHAIN_HALTED'));
      expect(halted.data.error.message).toContain('max-hops');
      expect(h.llm.calls).toHaveLength(2);
      expect(await halts('chain-hops')).toHaveLength(1);
      expect((await decisions('ping')).map((d) => d.data.hop)).toEqual([1]);
      expect((await decisions('pong')).map((d) => d.data.hop)).toEqual([2]);
    });

    it('a decision taken while another agent halted its chain fails CHAIN_HALTED once the engine answers, and its actions never run', async () => {
      // Given a slow agent deciding on an input of a chain, and a fast agent allowed one decision per chain
      await define('slow');
      await define('fast', { budgets: { maxDecisionsPerChain: 1 } });
      h.llm.respond('fast', () => []);
      await send('slow', 'think hard', 'chain-race');
      const slowCall = await h.llm.nthCall('slow', 0);

      // When the fast agent halts the chain meanwhile (its second decision would go beyond its limit)
      await send('fast', 'one', 'chain-race');
      await send('fast', 'two', 'chain-race');
      await eventually('the halt', async () => ((await halts('chain-race')).length === 1 ? true : undefined));

      // And then the slow agent's engine answers
      slowCall.answer([{ action: 'call-webhook', url: HOOK, body: { late: true } }], { inputTokens: 10, outputTokens: 5, totalTokens: 15, costUsd: 0 });

      // Then its decision is recorded as failed CHAIN_HALTED (with what the engine said), and it does not act
      const [failed] = await eventually('the failed decision', async () => {
        const all = await failures('slow');
        return all.length > 0 ? all : undefined;
      });
      expect(failed.data).toMatchObject({ error: { code: 'CHAIN_HALTED' }, usage: { totalTokens: 15 }, output: { scripted: true } });
      await sleep(QUIET_PERIOD_MS);
      expect(await decisions('slow')).toEqual([]);
      expect(h.webhooks.calls).toEqual([]);
      expect((await halts('chain-race')).map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'max-decisions', agentId: 'fast' })]);
    });

    it('the decision limit halts the chain once with max-decisions; later inputs of the chain fail CHAIN_HALTED without calling the engine', async () => {
      // Given two agents messaging each other, with at most 3 decisions per chain
      await pingPong({ maxHops: 50, maxDecisionsPerChain: 3 });

      // When a person starts a chain
      await send('ping', 'serve', 'chain-decisions');

      // Then three decisions are taken; the fourth halts the chain
      await eventually('the halt', async () => ((await halts('chain-decisions')).length > 0 ? true : undefined));
      await eventually('the fourth decision failed', async () => ((await allFailures()).length > 0 ? true : undefined));
      expect([...(await decisions('ping')), ...(await decisions('pong'))]).toHaveLength(3);
      expect(h.llm.calls).toHaveLength(3);
      expect((await allFailures()).map((f) => [f.data.agentId, f.data.error.code])).toEqual([['pong', 'CHAIN_BUDGET_EXCEEDED']]);
      expect((await halts('chain-decisions')).map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'max-decisions', limit: 3, used: 4 })]);
      expect(ofType(await chainEvents('chain-decisions'), 'chain.decision-counted')).toHaveLength(3);

      // When two more inputs of that chain arrive
      await send('ping', 'again', 'chain-decisions');
      await send('pong', 'again', 'chain-decisions');

      // Then both fail CHAIN_HALTED without calling the engine
      await eventually('two CHAIN_HALTED failures', async () => ((await allFailures()).filter((f) => f.data.error.code === 'CHAIN_HALTED').length === 2 ? true : undefined));
      expect(h.llm.calls).toHaveLength(3);
      expect(await halts('chain-decisions')).toHaveLength(1);
    });

    it('a decision whose tokens take the chain over its budget is recorded as failed CHAIN_BUDGET_EXCEEDED, and its actions never run', async () => {
      // Given an agent with 1000 tokens per chain, and an engine using 600 tokens per decision
      await define('spender', { budgets: { maxTokensPerChain: 1000 } });
      const usage: DecisionUsage = { inputTokens: 500, outputTokens: 100, totalTokens: 600, costUsd: 0.01 };
      h.llm.respond('spender', (call) => ({ actions: [{ action: 'call-webhook', url: HOOK, body: { ref: call.input.ref } }], usage }));

      // When two inputs of the same chain are decided
      const m1 = await send('spender', 'one', 'chain-tokens');
      await settled('spender', 1);
      const m2 = await send('spender', 'two', 'chain-tokens');

      // Then the second is recorded as a failure, with the engine's output and usage, and its webhook is not called
      const [failed] = await eventually('the failure', async () => {
        const all = await failures('spender');
        return all.length > 0 ? all : undefined;
      });
      expect(failed.data).toMatchObject({ input: { ref: m2 }, error: { code: 'CHAIN_BUDGET_EXCEEDED' }, usage: { totalTokens: 600 }, output: { scripted: true } });
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls.map((call) => (call.body as { ref: string }).ref)).toEqual([m1]);
      expect((await halts('chain-tokens')).map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'max-tokens', limit: 1000, used: 1200 })]);
      expect(await actionResults('spender')).toHaveLength(1);

      // And a third input of the chain fails CHAIN_HALTED without calling the engine
      await send('spender', 'three', 'chain-tokens');
      await eventually('CHAIN_HALTED', async () => (await failures('spender')).find((f) => f.data.error.code === 'CHAIN_HALTED'));
      expect(h.llm.calls).toHaveLength(2);
      expect(await halts('chain-tokens')).toHaveLength(1);
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* 6. Messages between agents                                                                         */
  /* ------------------------------------------------------------------------------------------------ */

  describe('messages between agents', () => {
    it('send-message to an agent id: the recipient gets an agent-message in the same chain, and decides on it one hop further', async () => {
      // Given two agents, the first of which messages the second
      await define('sender');
      await define('recipient');
      h.llm.respond('sender', () => [{ action: 'send-message', to: 'recipient', content: 'please check order 7' }]);
      h.llm.respond('recipient', () => []);

      // When a person messages the sender
      await send('sender', 'tell recipient', 'chain-msg');

      // Then the sender records the message it sent, and the recipient's mailbox gets it
      const [message] = await eventually('the sent message', async () => {
        const all = await sent('sender');
        return all.length > 0 ? all : undefined;
      });
      const [senderDecision] = await decisions('sender');
      expect(message.data).toMatchObject({ to: 'recipient', content: 'please check order 7', decisionId: senderDecision.data.decisionId, index: 0 });
      expect(message.metadata).toMatchObject({ correlationId: 'chain-msg', hop: 1 });
      const [entry] = await eventually('the recipient mailbox', async () => {
        const all = await mailbox('recipient');
        return all.length > 0 ? all : undefined;
      });
      expect(entry.data.input).toEqual({ kind: 'agent-message', ref: message.data.messageId, from: 'sender', to: 'recipient', content: 'please check order 7' });
      expect(entry.metadata).toMatchObject({ correlationId: 'chain-msg', hop: 1 });

      // And the recipient decides on it in the same chain, one hop further
      const call = await h.llm.nthCall('recipient', 0);
      expect((call.request.input as { message: unknown }).message).toEqual({ from: 'sender', content: 'please check order 7' });
      const [decision] = await eventually('the recipient decision', async () => {
        const all = await decisions('recipient');
        return all.length > 0 ? all : undefined;
      });
      expect(decision.data).toMatchObject({ correlationId: 'chain-msg', hop: 2, input: { kind: 'agent-message', ref: message.data.messageId } });
      expect(senderDecision.data.hop).toBe(1);
    });

    it('a broadcast to kind:monitor or tag:x reaches exactly the active matching agents, never the sender', async () => {
      // Given a sender (itself a monitor tagged x), and agents of several kinds, tags and states
      await define('broadcaster', { kind: 'monitor', tags: ['x'] });
      await define('monitor-1', { kind: 'monitor' });
      await define('monitor-2', { kind: 'monitor', tags: ['x'] });
      await define('monitor-paused', { kind: 'monitor' });
      await define('monitor-retired', { kind: 'monitor' });
      await define('tagged', { kind: 'custom', tags: ['x', 'y'] });
      await define('bystander', { kind: 'custom', tags: ['y'] });
      await pause('monitor-paused');
      await retire('monitor-retired');
      for (const id of ['monitor-1', 'monitor-2', 'tagged', 'bystander']) h.llm.respond(id, () => []);
      h.llm.respond('broadcaster', () => [
        { action: 'send-message', to: 'kind:monitor', content: 'alert' },
        { action: 'send-message', to: 'tag:x', content: 'fyi' },
      ]);

      // When the sender broadcasts
      await send('broadcaster', 'go', 'chain-broadcast');
      await settled('broadcaster', 1);
      await h.router.waitUntilProcessed(await h.store.headPosition());

      // Then each matching active agent got exactly what was meant for it
      const received = async (id: string) => (await mailbox(id)).map((entry) => `${entry.data.input.kind}:${(entry.data.input as { content: string }).content}`);
      expect(await received('monitor-1')).toEqual(['agent-message:alert']);
      expect(await received('monitor-2')).toEqual(['agent-message:alert', 'agent-message:fyi']);
      expect(await received('tagged')).toEqual(['agent-message:fyi']);
      expect(await received('monitor-paused')).toEqual([]);
      expect(await received('monitor-retired')).toEqual([]);
      expect(await received('bystander')).toEqual([]);
      expect(await received('broadcaster')).toEqual(['message:go']);
      const entries = await mailbox('monitor-2');
      expect(entries.map((entry) => entry.data.input)).toEqual([
        expect.objectContaining({ from: 'broadcaster', to: 'kind:monitor' }),
        expect.objectContaining({ from: 'broadcaster', to: 'tag:x' }),
      ]);
      expect(entries.every((entry) => entry.metadata.correlationId === 'chain-broadcast')).toBe(true);
    });

    it('request/reply: a reply action to a request sends agent.message-sent back to the requester, marked inReplyTo; no timeout follows', async () => {
      // Given a requester that asks a responder with replyWithin, and a responder that replies
      await define('requester');
      await define('responder');
      h.llm.respond('requester', (call) => (call.input.kind === 'message' ? [{ action: 'send-message', to: 'responder', content: 'what is the total?', replyWithin: 'PT30S' }] : []));
      h.llm.respond('responder', () => [{ action: 'reply', text: '42' }]);

      // When a person asks the requester
      await send('requester', 'ask responder', 'chain-request');

      // Then the request carries its due time, and the responder's reply goes back to the requester
      const [request] = await eventually('the request', async () => {
        const all = await sent('requester');
        return all.length > 0 ? all : undefined;
      });
      expect(request.data.replyDueAt).toBe(new Date(h.clock.now().getTime() + 30_000).toISOString());
      const [reply] = await eventually('the reply', async () => {
        const all = await sent('responder');
        return all.length > 0 ? all : undefined;
      });
      expect(reply.data).toMatchObject({ to: 'requester', content: '42', inReplyTo: request.data.messageId });
      const answered = await eventually('the reply in the requester mailbox', async () => (await mailbox('requester')).find((entry) => entry.data.input.kind === 'agent-message'));
      expect(answered.data.input).toMatchObject({ kind: 'agent-message', from: 'responder', inReplyTo: request.data.messageId, content: '42' });
      expect(answered.data.input).not.toHaveProperty('timedOut');
      const requesterSeesReply = await h.llm.nthCall('requester', 1);
      expect(requesterSeesReply.input.ref).toBe(reply.data.messageId);

      // And once the reply is known, the deadline passing delivers no timeout
      await eventually('the request deadline cleared', () => h.deadlines.pendingRequests === 0 || undefined);
      h.clock.advance(60_000);
      await h.deadlines.tick();
      await sleep(QUIET_PERIOD_MS);
      expect((await mailbox('requester')).filter((entry) => (entry.data.input as { timedOut?: boolean }).timedOut === true)).toEqual([]);
    });

    it('request without reply: once the clock passes replyWithin, tick delivers one timedOut input to the requester, however often it runs', async () => {
      // Given a request to an agent that decides not to reply
      await define('asker');
      await define('silent');
      h.llm.respond('asker', (call) => (call.input.kind === 'message' ? [{ action: 'send-message', to: 'silent', content: 'anyone?', replyWithin: 'PT30S' }] : []));
      h.llm.respond('silent', () => []);
      await send('asker', 'ask', 'chain-timeout');
      const [request] = await eventually('the request', async () => {
        const all = await sent('asker');
        return all.length > 0 ? all : undefined;
      });
      await eventually('the silent decision', async () => ((await decisions('silent')).length === 1 ? true : undefined));
      await eventually('the deadline known', () => h.deadlines.pendingRequests === 1 || undefined);
      const timedOut = async () => (await mailbox('asker')).filter((entry) => (entry.data.input as { timedOut?: boolean }).timedOut === true);

      // When the clock has not yet passed the deadline
      h.clock.advance(29_000);
      await h.deadlines.tick();
      // Then nothing is delivered
      expect(await timedOut()).toEqual([]);

      // When it has, and the deadlines run twice — and once more after a restart
      h.clock.advance(2_000);
      await h.deadlines.tick();
      await h.deadlines.tick();
      const restarted = await startDeadlines();
      await restarted.tick();

      // Then the requester got exactly one timedOut input, in the request's chain, and decided on it once
      const [entry, ...more] = await timedOut();
      expect(more).toEqual([]);
      expect(entry.data.input).toMatchObject({ kind: 'agent-message', ref: request.data.messageId, from: 'silent', to: 'asker', timedOut: true });
      expect(entry.metadata.correlationId).toBe('chain-timeout');
      const call = await h.llm.nthCall('asker', 1);
      expect(call.input).toMatchObject({ kind: 'agent-message', ref: request.data.messageId, payload: { timedOut: true } });
      await eventually('two asker decisions', async () => ((await decisions('asker')).length === 2 ? true : undefined));
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.callsOf('asker')).toHaveLength(2);
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* 7. Approvals                                                                                       */
  /* ------------------------------------------------------------------------------------------------ */

  describe('approvals', () => {
    const approvalsOf = async (conversationId: string) =>
      ofType<ConversationApprovalRequested['data']>(await read(streamName('conversation', conversationId, TENANT)), 'conversation.approval-requested');

    async function proposeInConversation(agentId: string, proposals: readonly AgentAction[]): Promise<{ conversationId: string; decisionId: string }> {
      const conversationId = `conversation-${agentId}`;
      await conversation({ type: 'StartConversation', data: { conversationId, agentIds: [agentId], title: 'ops' } });
      h.llm.respond(agentId, (call) => (call.input.kind === 'message' ? proposals.map((proposed) => ({ action: 'propose', proposed, reason: 'needs a person' }) as AgentAction) : []));
      await conversation({ type: 'PostMessage', data: { conversationId, messageId: randomUUID(), content: 'refund order 7', author: { kind: 'user', id: 'ana' } } });
      await eventually('the approval requests', async () => ((await approvalsOf(conversationId)).length === proposals.length ? true : undefined));
      const [decision] = await decisions(agentId);
      return { conversationId, decisionId: decision.data.decisionId };
    }

    const resolve = (conversationId: string, approvalId: string, decision: 'approve' | 'reject') =>
      conversation({ type: 'ResolveApproval', data: { conversationId, approvalId, decision } });

    it('propose asks in the input conversation, with the expiry of the agent policy; approving runs the wrapped action and records it on the proposal index', async () => {
      // Given an agent that may only propose, with a 10-minute approval policy
      await define('proposer', { tools: ['propose'], approvals: { timeout: 'PT10M', onTimeout: 'reject' } });

      // When it proposes a webhook call and a memory update in a conversation
      const { conversationId, decisionId } = await proposeInConversation('proposer', [
        { action: 'call-webhook', url: HOOK, body: { refund: 7 } },
        { action: 'remember', key: 'refund', value: 'order-7' },
      ]);

      // Then the approvals are requested there, with the policy's expiry, and nothing runs yet
      const requested = await approvalsOf(conversationId);
      expect(requested.map((event) => event.data)).toEqual([
        expect.objectContaining({
          approvalId: actionOutputId(decisionId, 0),
          agentId: 'proposer',
          decisionId,
          action: { index: 0, proposed: { action: 'call-webhook', url: HOOK, body: { refund: 7 } }, onTimeout: 'reject' },
          reason: 'needs a person',
          expiresAt: new Date(h.clock.now().getTime() + 10 * 60_000).toISOString(),
        }),
        expect.objectContaining({ approvalId: actionOutputId(decisionId, 1), action: expect.objectContaining({ index: 1 }) }),
      ]);
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls).toEqual([]);
      expect(await actionResults('proposer')).toEqual([]);

      // When a person approves both
      await resolve(conversationId, actionOutputId(decisionId, 0), 'approve');
      await resolve(conversationId, actionOutputId(decisionId, 1), 'approve');

      // Then the wrapped actions run, recorded on the proposals' indexes
      await settled('proposer', 1);
      expect(h.webhooks.calls.map((call) => [call.idempotencyKey, call.body])).toEqual([[actionKey(decisionId, 0), { refund: 7 }]]);
      const results = await actionResults('proposer');
      expect(results.map((r) => [r.type, r.data.index, r.data.action, r.data.result?.approval, r.data.result?.proposed])).toEqual([
        ['agent.action-executed', 0, 'propose', 'approve', 'call-webhook'],
        ['agent.action-executed', 1, 'propose', 'approve', 'remember'],
      ]);
      expect(ofType<{ key: string; value: unknown }>(await agentStream('proposer'), 'agent.memory-updated').map((e) => e.data)).toEqual([
        expect.objectContaining({ key: 'refund', value: 'order-7', decisionId, index: 1 }),
      ]);
    });

    it('a proposal approved after its agent was retired does not run; it is recorded as rejected because of the retirement', async () => {
      // Given a proposed webhook call waiting for approval
      await define('retiring', { tools: ['propose'] });
      const { conversationId, decisionId } = await proposeInConversation('retiring', [{ action: 'call-webhook', url: HOOK, body: { late: true } }]);

      // When the agent is retired, and then a person approves
      await retire('retiring');
      await resolve(conversationId, actionOutputId(decisionId, 0), 'approve');

      // Then nothing runs, and the outcome says why
      await settled('retiring', 1);
      expect(h.webhooks.calls).toEqual([]);
      const [result] = await actionResults('retiring');
      expect(result.data).toMatchObject({ index: 0, action: 'propose', result: { approval: 'reject', how: 'agent-retired', proposed: 'call-webhook' } });
    });

    it('an approved proposal to send a message delivers it, like a direct send-message', async () => {
      // Given a proposer and the agent it would message
      await define('cautious', { tools: ['propose'] });
      await define('listener');
      h.llm.respond('listener', () => []);
      const { conversationId, decisionId } = await proposeInConversation('cautious', [{ action: 'send-message', to: 'listener', content: 'refund approved' }]);

      // When a person approves it
      await resolve(conversationId, actionOutputId(decisionId, 0), 'approve');

      // Then the message is sent and reaches the listener
      const [message] = await eventually('the sent message', async () => {
        const all = await sent('cautious');
        return all.length > 0 ? all : undefined;
      });
      expect(message.data).toMatchObject({ to: 'listener', content: 'refund approved', decisionId, index: 0 });
      const [entry] = await eventually('the listener mailbox', async () => {
        const all = await mailbox('listener');
        return all.length > 0 ? all : undefined;
      });
      expect(entry.data.input).toMatchObject({ kind: 'agent-message', from: 'cautious', content: 'refund approved' });
    });

    it('an approved proposal to reply posts the reply in the conversation the proposal was made in', async () => {
      // Given a proposed reply
      await define('replier', { tools: ['propose'] });
      const { conversationId, decisionId } = await proposeInConversation('replier', [{ action: 'reply', text: 'your refund is on its way' }]);

      // When a person approves it
      await resolve(conversationId, actionOutputId(decisionId, 0), 'approve');

      // Then the reply is stored in the conversation, and the proposal is settled with it
      await settled('replier', 1);
      const replies = ofType<{ content: string; agentId: string }>(await read(streamName('conversation', conversationId, TENANT)), 'conversation.reply-recorded');
      expect(replies.map((event) => [event.data.agentId, event.data.content])).toEqual([['replier', 'your refund is on its way']]);
      const [result] = await actionResults('replier');
      expect(result.data).toMatchObject({ index: 0, result: { approval: 'approve', proposed: 'reply', result: { conversationId } } });
    });

    it('closing the conversation cancels the pending proposals: they are recorded as rejected (cancelled), and nothing runs', async () => {
      // Given two proposals waiting in a conversation
      await define('closing', { tools: ['propose'] });
      const { conversationId } = await proposeInConversation('closing', [
        { action: 'call-webhook', url: HOOK },
        { action: 'remember', key: 'refund', value: 'order-7' },
      ]);

      // When the conversation is closed
      await conversation({ type: 'CloseConversation', data: { conversationId, reason: 'resolved by phone' } });

      // Then both proposals are settled as cancelled; the webhook is never called, the memory never written
      await settled('closing', 1);
      const results = await actionResults('closing');
      expect(results.map((r) => r.data)).toEqual([
        expect.objectContaining({ index: 0, action: 'propose', result: expect.objectContaining({ approval: 'reject', proposed: 'call-webhook', how: 'cancelled' }) }),
        expect.objectContaining({ index: 1, action: 'propose', result: expect.objectContaining({ approval: 'reject', proposed: 'remember', how: 'cancelled' }) }),
      ]);
      await runtime.whenIdle();
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls).toEqual([]);
      expect(ofType(await agentStream('closing'), 'agent.memory-updated')).toEqual([]);
    });

    it('rejecting a proposal records it as rejected, and nothing runs', async () => {
      // Given a proposed webhook call
      await define('rejected', { tools: ['propose'] });
      const { conversationId, decisionId } = await proposeInConversation('rejected', [{ action: 'call-webhook', url: HOOK, body: { refund: 8 } }]);

      // When a person rejects it
      await resolve(conversationId, actionOutputId(decisionId, 0), 'reject');

      // Then the proposal is settled as rejected, and the webhook is never called
      await settled('rejected', 1);
      const [result] = await actionResults('rejected');
      expect(result.data).toMatchObject({ index: 0, action: 'propose', result: { approval: 'reject', proposed: 'call-webhook', how: 'rejected' } });
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls).toEqual([]);
    });

    it.each([
      ['approve', 'PT5M', 5 * 60_000],
      ['reject', 'PT1H', 60 * 60_000],
    ] as const)('an expired proposal is decided by the timeout policy (%s), in the agent approvals conversation when the input had none', async (onTimeout, timeout, timeoutMs) => {
      // Given a proposal made on a direct message (no conversation of its own)
      const agentId = `expiring-${onTimeout}`;
      await define(agentId, { tools: ['propose'], approvals: { timeout, onTimeout } });
      h.llm.respond(agentId, () => [{ action: 'propose', proposed: { action: 'call-webhook', url: HOOK, body: { expired: true } } }]);
      await send(agentId, 'refund order 9');
      const approvals = approvalsConversationId(agentId);
      const [requested] = await eventually('the approval request', async () => {
        const all = await approvalsOf(approvals);
        return all.length > 0 ? all : undefined;
      });
      expect(requested.data.expiresAt).toBe(new Date(h.clock.now().getTime() + timeoutMs).toISOString());
      await eventually('the deadline known', () => h.deadlines.pendingApprovals === 1 || undefined);

      // When the deadline has not passed yet
      h.clock.advance(timeoutMs - 1_000);
      await h.deadlines.tick();
      // Then nothing is decided
      await sleep(QUIET_PERIOD_MS);
      expect(await actionResults(agentId)).toEqual([]);

      // When it has
      h.clock.advance(2_000);
      await h.deadlines.tick();
      await h.deadlines.tick();

      // Then the timeout policy applies, once
      await settled(agentId, 1);
      const [decision] = await decisions(agentId);
      const [result] = await actionResults(agentId);
      expect(result.data.result).toMatchObject({ approval: onTimeout, proposed: 'call-webhook' });
      expect(ofType(await read(streamName('conversation', approvals, TENANT)), 'conversation.approval-expired')).toHaveLength(1);
      await sleep(QUIET_PERIOD_MS);
      expect(h.webhooks.calls.map((call) => call.idempotencyKey)).toEqual(onTimeout === 'approve' ? [actionKey(decision.data.decisionId, 0)] : []);
      await expectEachActionRecordedOnce(agentId);
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* Failed and refused decisions                                                                       */
  /* ------------------------------------------------------------------------------------------------ */

  describe('failed and refused decisions', () => {
    it('an engine failure is recorded as a failed decision with its reason; the input is not retried and the mailbox goes on', async () => {
      // Given an agent with two inputs
      await define('flaky');
      const m1 = await send('flaky', 'one');
      const m2 = await send('flaky', 'two');

      // When its engine fails on the first
      (await h.llm.nthCall('flaky', 0)).fail(new Error('provider unavailable'));

      // Then the failure is recorded, and the next input is decided
      const second = await h.llm.nthCall('flaky', 1);
      expect(second.input.ref).toBe(m2);
      second.answer([]);
      await eventually('the second decision', async () => ((await decisions('flaky')).length === 1 ? true : undefined));
      const [failed] = await failures('flaky');
      expect(failed.data).toMatchObject({ input: { ref: m1 }, error: { code: 'LLM_ENGINE_ERROR', message: 'provider unavailable' }, engine: { type: 'llm', provider: 'fake' } });
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.calls).toHaveLength(2);
      await expectEachInputDecidedOnce('flaky');
    });

    it('a rule whose template renders an invalid action is recorded as a failed decision, and the mailbox goes on', async () => {
      // Given a rules agent one of whose rules renders an empty reply
      await define('templated', {
        engine: {
          type: 'rules',
          rules: [
            { when: { '==': [{ var: 'message.content' }, 'bad'] }, then: [{ action: 'reply', text: '{{memory.nothing}}' }] },
            { when: { '==': [{ var: 'message.content' }, 'good'] }, then: [{ action: 'remember', key: 'good', value: 'yes' }] },
          ],
        },
        tools: ['reply', 'remember'],
      });

      // When it gets an input that fires that rule, then one that fires the other
      const bad = await send('templated', 'bad');
      const good = await send('templated', 'good');

      // Then the first is recorded as failed with the reason, and the second is decided and acted on
      await settled('templated', 1);
      const [failed] = await failures('templated');
      expect(failed.data).toMatchObject({ input: { ref: bad }, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('text') }, engine: { type: 'rules' } });
      expect((await decisions('templated')).map((d) => d.data.input.ref)).toEqual([good]);
      await expectEachInputDecidedOnce('templated');
    });

    it('an answer using a tool withdrawn while the engine decided is recorded as failed TOOL_NOT_ALLOWED; the engine is not asked again and nothing runs', async () => {
      // Given an LLM decision running for an agent allowed to call webhooks
      await define('withdrawn', { tools: ['call-webhook', 'remember'] });
      const m1 = await send('withdrawn', 'call them');
      const call = await h.llm.nthCall('withdrawn', 0);

      // When the tool is withdrawn, and then the engine answers with it
      await agentCommand('withdrawn', { type: 'ReconfigureAgent', data: { agentId: 'withdrawn', changes: { tools: ['remember'] } } });
      call.answer([{ action: 'call-webhook', url: HOOK }], { inputTokens: 7, outputTokens: 3, totalTokens: 10, costUsd: 0 });

      // Then the decision is recorded as failed, with the engine's answer, and the webhook is never called
      const [failed] = await eventually('the failed decision', async () => {
        const all = await failures('withdrawn');
        return all.length > 0 ? all : undefined;
      });
      expect(failed.data).toMatchObject({ input: { ref: m1 }, error: { code: 'TOOL_NOT_ALLOWED' }, usage: { totalTokens: 10 }, output: { scripted: true } });
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.calls).toHaveLength(1);
      expect(h.webhooks.calls).toEqual([]);
      expect(await decisions('withdrawn')).toEqual([]);
    });

    it('an agent retired while the engine decides records nothing and runs nothing', async () => {
      // Given an LLM decision running
      await define('leaving');
      await send('leaving', 'one');
      const call = await h.llm.nthCall('leaving', 0);

      // When the agent is retired, and then the engine answers
      await retire('leaving');
      call.answer([{ action: 'call-webhook', url: HOOK }]);

      // Then nothing is recorded or run, and the input is done with
      await runtime.whenIdle();
      await sleep(QUIET_PERIOD_MS);
      expect(await decisions('leaving')).toEqual([]);
      expect(await failures('leaving')).toEqual([]);
      expect(h.webhooks.calls).toEqual([]);
      expect(h.llm.calls).toHaveLength(1);
    });
  });

  /* ------------------------------------------------------------------------------------------------ */
  /* 8. Paused and retired agents                                                                       */
  /* ------------------------------------------------------------------------------------------------ */

  describe('paused and retired agents', () => {
    it('a paused agent keeps its messages in the mailbox and decides on them, in order, once resumed', async () => {
      // Given a paused agent
      await define('napper');
      h.llm.respond('napper', () => []);
      await pause('napper');

      // When messages arrive
      const m1 = await send('napper', 'one');
      const m2 = await send('napper', 'two');

      // Then they wait in its mailbox, undecided — and do not hold back the runtime (its checkpoint
      // moves past them; the agent reads its mailbox again when resumed)
      await eventually('both in the mailbox', async () => ((await mailbox('napper')).length === 2) || undefined);
      await h.router.waitUntilProcessed(await h.store.headPosition());
      await runtime.whenIdle();
      expect(runtime.backlog).toBe(0);
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.calls).toEqual([]);

      // When it is resumed
      await resume('napper');

      // Then it decides on them in mailbox order
      await eventually('two decisions', async () => ((await decisions('napper')).length === 2 ? true : undefined));
      expect((await decisions('napper')).map((d) => d.data.input.ref)).toEqual([m1, m2]);
      await runtime.whenIdle();
      expect(runtime.backlog).toBe(0);
    });

    it('pausing an agent while it decides: nothing is recorded until it resumes, then the input is decided once', async () => {
      // Given an LLM decision running
      await define('interrupted-by-pause');
      const m1 = await send('interrupted-by-pause', 'one');
      const first = await h.llm.nthCall('interrupted-by-pause', 0);

      // When the agent is paused before the engine answers
      await pause('interrupted-by-pause');
      first.answer([{ action: 'remember', key: 'k', value: 1 }]);

      // Then no decision is recorded while paused
      await sleep(QUIET_PERIOD_MS);
      expect(await decisions('interrupted-by-pause')).toEqual([]);
      expect(await failures('interrupted-by-pause')).toEqual([]);

      // When it is resumed, the input is decided (once) with the answer the model already gave:
      // the model is not asked again
      await resume('interrupted-by-pause');
      await settled('interrupted-by-pause', 1);
      const [decision] = await decisions('interrupted-by-pause');
      expect(decision.data).toMatchObject({ input: { ref: m1 }, actions: [{ index: 0, action: { action: 'remember', key: 'k', value: 1 } }] });
      expect(h.llm.callsOf('interrupted-by-pause')).toHaveLength(1);
      await expectEachInputDecidedOnce('interrupted-by-pause');
    });

    it('a retired agent drops its inputs: nothing is decided, and the mailbox is no longer waited on', async () => {
      // Given a paused agent with messages waiting, and a conversation it takes part in
      await define('retiree');
      h.llm.respond('retiree', () => []);
      await conversation({ type: 'StartConversation', data: { conversationId: 'retiree-chat', agentIds: ['retiree'] } });
      await pause('retiree');
      await send('retiree', 'one');
      await send('retiree', 'two');
      await eventually('both in the mailbox', async () => ((await mailbox('retiree')).length === 2) || undefined);

      // When it is retired, and a person writes in its conversation afterwards
      await retire('retiree');
      await conversation({ type: 'PostMessage', data: { conversationId: 'retiree-chat', messageId: randomUUID(), content: 'hello?', author: { kind: 'user', id: 'ana' } } });
      await h.router.waitUntilProcessed(await h.store.headPosition());

      // Then its inputs are dropped: nothing decided, nothing pending, nothing new enqueued
      await runtime.whenIdle();
      expect(runtime.backlog).toBe(0);
      expect(await mailbox('retiree')).toHaveLength(2);
      await sleep(QUIET_PERIOD_MS);
      expect(h.llm.calls).toEqual([]);
      expect(await decisions('retiree')).toEqual([]);
      expect(await failures('retiree')).toEqual([]);

      // And a restarted runtime does not decide them either
      await runtime.stop();
      runtime = await startRuntime();
      await sleep(QUIET_PERIOD_MS);
      await runtime.whenIdle();
      expect(h.llm.calls).toEqual([]);
    });
  });
});
