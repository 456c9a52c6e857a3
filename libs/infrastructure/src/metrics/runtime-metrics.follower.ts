import { Counter, Histogram, type Registry } from 'prom-client';
import {
  parseStreamName,
  type AgentActionExecuted,
  type AgentActionFailed,
  type AgentDecisionFailed,
  type AgentDecisionRecorded,
  type ChainHalted,
  type EventStore,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';

export interface RuntimeMetricsFollowerOptions {
  /** Events per store read. */
  readonly batchSize?: number;
  /** Where failures go (a failed store read, an event that could not be counted); never thrown further. */
  readonly onError?: (error: unknown) => void;
}

/** Seconds; rules decide in (sub)milliseconds, model calls take seconds. */
const DECISION_LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Stream categories of ingested domain events (see stream-names.ts). */
const INGESTED_CATEGORIES: ReadonlySet<string> = new Set(['entity', 'source']);

type DecisionData = AgentDecisionRecorded['data'] | AgentDecisionFailed['data'];

/**
 * The runtime's metrics, derived from what it records in the event store rather than counted in its
 * hot path: decisions, actions, tokens and cost, decision latency, halted chains, agent messages and
 * ingested events. Follows the store from its head at start, so the counters count what happened
 * since this process started (Prometheus treats the restart as a counter reset).
 *
 * One unfiltered subscription: ingested events have arbitrary types and tenant-prefixed streams, so
 * no store filter selects them together with the runtime's own events; the classification is here.
 */
export class RuntimeMetricsFollower {
  private readonly decisions: Counter<'engine' | 'outcome'>;
  private readonly decisionFailures: Counter<'code'>;
  private readonly actions: Counter<'action' | 'outcome'>;
  private readonly llmTokens: Counter<'provider' | 'model' | 'kind'>;
  private readonly llmCost: Counter<'provider' | 'model'>;
  private readonly decisionLatency: Histogram<'engine'>;
  private readonly chainsHalted: Counter<'reason'>;
  private readonly agentMessages: Counter;
  private readonly eventsIngested: Counter;
  private subscription: Subscription | null = null;

  constructor(
    private readonly store: EventStore,
    registry: Registry,
    private readonly options: RuntimeMetricsFollowerOptions = {},
  ) {
    const registers = [registry];
    this.decisions = new Counter({
      name: 'meridian_decisions_total',
      help: 'Agent decisions by engine (rules, llm) and outcome (decided, failed, cancelled).',
      labelNames: ['engine', 'outcome'],
      registers,
    });
    this.decisionFailures = new Counter({
      name: 'meridian_decision_failures_total',
      help: 'Failed agent decisions by error code.',
      labelNames: ['code'],
      registers,
    });
    this.actions = new Counter({
      name: 'meridian_actions_total',
      help: 'Agent actions run, by action and outcome (succeeded, failed).',
      labelNames: ['action', 'outcome'],
      registers,
    });
    this.llmTokens = new Counter({
      name: 'meridian_llm_tokens_total',
      help: 'Model tokens used by LLM decisions, by provider, model and kind (input, output).',
      labelNames: ['provider', 'model', 'kind'],
      registers,
    });
    this.llmCost = new Counter({
      name: 'meridian_llm_cost_usd_total',
      help: 'Cost in US dollars of LLM decisions, by provider and model.',
      labelNames: ['provider', 'model'],
      registers,
    });
    this.decisionLatency = new Histogram({
      name: 'meridian_decision_latency_seconds',
      help: 'Time an engine took to decide (recorded and failed decisions), by engine.',
      labelNames: ['engine'],
      buckets: DECISION_LATENCY_BUCKETS,
      registers,
    });
    this.chainsHalted = new Counter({
      name: 'meridian_chains_halted_total',
      help: 'Chains halted by a budget, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.agentMessages = new Counter({ name: 'meridian_agent_messages_total', help: 'Messages sent by agents.', registers });
    this.eventsIngested = new Counter({
      name: 'meridian_events_ingested_total',
      help: 'Domain events ingested from outside (hop 0 in entity and source streams).',
      registers,
    });
  }

  /** Follows the store from its current head. Resolves once the starting point is fixed. */
  async start(): Promise<void> {
    if (this.subscription) return;
    const head = await this.store.headPosition();
    this.subscription = this.store.subscribe(
      {
        onEvents: (events) => this.record(events),
        onError: (error) => this.options.onError?.(error),
      },
      { after: head, batchSize: this.options.batchSize },
    );
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
  }

  /**
   * Counts a batch of stored events. Never throws: a rejected batch would be redelivered by the
   * subscription and counted twice.
   */
  record(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      try {
        this.recordOne(event);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private recordOne(event: RecordedEvent): void {
    const category = parseStreamName(event.streamName)?.category;
    if (category === undefined) return;
    if (INGESTED_CATEGORIES.has(category)) {
      if (event.metadata.hop === 0) this.eventsIngested.inc();
      return;
    }
    // Runtime facts only count from the streams the runtime writes them to, so an ingested event
    // that happens to reuse one of these type names is never mistaken for one.
    if (category === 'chain') {
      if (event.type === 'chain.halted') this.chainsHalted.inc({ reason: label((event.data as ChainHalted['data']).reason) });
      return;
    }
    if (category !== 'agent') return;
    switch (event.type) {
      case 'agent.decision-recorded':
        this.recordDecision(event.data as DecisionData, 'decided');
        return;
      case 'agent.decision-failed': {
        const data = event.data as AgentDecisionFailed['data'];
        this.recordDecision(data, 'failed');
        this.decisionFailures.inc({ code: label(data.error?.code) });
        return;
      }
      case 'agent.decision-cancelled':
        // Only an LLM decision in flight can be interrupted; the event names no engine.
        this.decisions.inc({ engine: 'llm', outcome: 'cancelled' });
        return;
      case 'agent.action-executed':
        this.actions.inc({ action: label((event.data as AgentActionExecuted['data']).action), outcome: 'succeeded' });
        return;
      case 'agent.action-failed':
        this.actions.inc({ action: label((event.data as AgentActionFailed['data']).action), outcome: 'failed' });
        return;
      case 'agent.message-sent':
        this.agentMessages.inc();
        return;
      default:
        return;
    }
  }

  private recordDecision(data: DecisionData, outcome: 'decided' | 'failed'): void {
    const engine = label(data.engine?.type);
    this.decisions.inc({ engine, outcome });
    if (isCount(data.latencyMs)) this.decisionLatency.observe({ engine }, data.latencyMs / 1000);
    if (data.engine?.type !== 'llm') return;
    const provider = label(data.engine.provider);
    const model = label(data.engine.model);
    const usage = data.usage;
    if (isCount(usage?.inputTokens)) this.llmTokens.inc({ provider, model, kind: 'input' }, usage.inputTokens);
    if (isCount(usage?.outputTokens)) this.llmTokens.inc({ provider, model, kind: 'output' }, usage.outputTokens);
    if (isCount(usage?.costUsd)) this.llmCost.inc({ provider, model }, usage.costUsd);
  }
}

/** A label value from stored data; 'unknown' rather than an empty or missing label. */
function label(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : 'unknown';
}

/** Counters only go up: a missing, negative or non-finite amount is not counted. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
