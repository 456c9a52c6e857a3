import { Registry } from 'prom-client';
import type { EventMetadata, NewEvent, RecordedEvent } from '@meridian/domain';
import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { RuntimeMetricsFollower } from './runtime-metrics.follower';

const metadata = (hop = 0): EventMetadata => ({
  occurredAt: '2025-01-01T00:00:00.000Z',
  correlationId: 'chain-1',
  causationId: null,
  hop,
  tenantId: 'default',
  actor: { kind: 'system', id: 'test' },
});

let position = 0;
function recorded(streamName: string, type: string, data: unknown, hop = 1): RecordedEvent {
  position += 1;
  return { streamName, revision: 0, position, eventId: `e-${position}`, type, data, metadata: metadata(hop), schemaVersion: 1, recordedAt: '2025-01-01T00:00:00.000Z' };
}

const usage = (inputTokens: number, outputTokens: number, costUsd: number) => ({ inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, costUsd });
const llm = { type: 'llm', provider: 'openai', model: 'gpt-4o-mini' };

function decisionRecorded(engine: object, latencyMs: number, decisionUsage = usage(0, 0, 0)): RecordedEvent {
  return recorded('default/agent-a1', 'agent.decision-recorded', { agentId: 'a1', decisionId: `d-${position}`, engine, usage: decisionUsage, latencyMs, actions: [], output: null, definitionVersion: 1, correlationId: 'chain-1' });
}

/** The value of one series; `name` may be a histogram's `_bucket`, `_sum` or `_count` series. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metricName = name.replace(/_(bucket|sum|count)$/, '');
  const metric = registry.getSingleMetric(name) ?? registry.getSingleMetric(metricName);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const values: readonly { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[] = (await metric.get()).values;
  return values.find(
    (value) =>
      (value.metricName ?? metricName) === name &&
      Object.keys(value.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  )?.value;
}

describe('RuntimeMetricsFollower', () => {
  let registry: Registry;
  let follower: RuntimeMetricsFollower;
  let errors: unknown[];

  beforeEach(() => {
    registry = new Registry();
    errors = [];
    follower = new RuntimeMetricsFollower(new InMemoryEventStore(), registry, { onError: (error) => errors.push(error) });
  });

  it('counts decisions by engine and outcome, failures by code, cancellations as llm', async () => {
    follower.record([
      decisionRecorded({ type: 'rules' }, 2),
      decisionRecorded({ type: 'rules' }, 3),
      decisionRecorded(llm, 1500, usage(100, 20, 0.001)),
      recorded('default/agent-a1', 'agent.decision-failed', { agentId: 'a1', engine: llm, error: { message: 'down', code: 'LLM_UNAVAILABLE' }, usage: usage(0, 0, 0), latencyMs: 400 }),
      recorded('default/agent-a1', 'agent.decision-failed', { agentId: 'a1', engine: { type: 'rules' }, error: { message: 'bad template' }, usage: usage(0, 0, 0), latencyMs: 1 }),
      recorded('default/agent-a1', 'agent.decision-cancelled', { agentId: 'a1', decisionId: 'd-x', reason: 'interrupted', latencyMs: 50 }),
    ]);

    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'rules', outcome: 'decided' })).toBe(2);
    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'llm', outcome: 'decided' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'llm', outcome: 'failed' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'rules', outcome: 'failed' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'llm', outcome: 'cancelled' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decision_failures_total', { code: 'LLM_UNAVAILABLE' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decision_failures_total', { code: 'unknown' })).toBe(1);
    expect(errors).toEqual([]);
  });

  it('counts tokens and cost of LLM decisions (recorded and failed) by provider and model, never of rules', async () => {
    follower.record([
      decisionRecorded(llm, 1000, usage(100, 20, 0.001)),
      recorded('default/agent-a1', 'agent.decision-failed', { agentId: 'a1', engine: llm, error: { message: 'invalid output', code: 'LLM_INVALID_OUTPUT' }, usage: usage(50, 5, 0.0005), latencyMs: 900 }),
      decisionRecorded({ type: 'llm', provider: 'anthropic', model: 'claude-haiku' }, 800, usage(7, 3, 0.01)),
      decisionRecorded({ type: 'rules' }, 1, usage(999, 999, 9)),
    ]);

    expect(await valueOf(registry, 'meridian_llm_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', kind: 'input' })).toBe(150);
    expect(await valueOf(registry, 'meridian_llm_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', kind: 'output' })).toBe(25);
    expect(await valueOf(registry, 'meridian_llm_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBeCloseTo(0.0015, 10);
    expect(await valueOf(registry, 'meridian_llm_tokens_total', { provider: 'anthropic', model: 'claude-haiku', kind: 'input' })).toBe(7);
    expect(await valueOf(registry, 'meridian_llm_cost_usd_total', { provider: 'anthropic', model: 'claude-haiku' })).toBe(0.01);
    const tokenSeries = (await registry.getSingleMetric('meridian_llm_tokens_total')!.get()).values;
    expect(tokenSeries).toHaveLength(4);
  });

  it('observes decision latency in seconds by engine', async () => {
    follower.record([decisionRecorded({ type: 'rules' }, 2), decisionRecorded({ type: 'rules' }, 30), decisionRecorded(llm, 1500)]);

    expect(await valueOf(registry, 'meridian_decision_latency_seconds_count', { engine: 'rules' })).toBe(2);
    expect(await valueOf(registry, 'meridian_decision_latency_seconds_sum', { engine: 'rules' })).toBeCloseTo(0.032, 10);
    expect(await valueOf(registry, 'meridian_decision_latency_seconds_bucket', { engine: 'rules', le: '0.01' })).toBe(1);
    expect(await valueOf(registry, 'meridian_decision_latency_seconds_sum', { engine: 'llm' })).toBeCloseTo(1.5, 10);
  });

  it('counts actions by action and outcome, agent messages and halted chains by reason', async () => {
    follower.record([
      recorded('default/agent-a1', 'agent.action-executed', { agentId: 'a1', decisionId: 'd1', index: 0, action: 'remember' }),
      recorded('default/agent-a1', 'agent.action-executed', { agentId: 'a1', decisionId: 'd1', index: 1, action: 'send-message' }),
      recorded('default/agent-a1', 'agent.message-sent', { agentId: 'a1', messageId: 'm1', to: 'a2', content: 'hi', decisionId: 'd1', index: 1 }),
      recorded('default/agent-a1', 'agent.action-failed', { agentId: 'a1', decisionId: 'd1', index: 2, action: 'call-webhook', error: { message: '503' } }),
      recorded('default/chain-c1', 'chain.halted', { correlationId: 'c1', reason: 'max-hops', limit: 5, used: 6, agentId: 'a1', haltedAt: '2025-01-01T00:00:00.000Z' }),
    ]);

    expect(await valueOf(registry, 'meridian_actions_total', { action: 'remember', outcome: 'succeeded' })).toBe(1);
    expect(await valueOf(registry, 'meridian_actions_total', { action: 'send-message', outcome: 'succeeded' })).toBe(1);
    expect(await valueOf(registry, 'meridian_actions_total', { action: 'call-webhook', outcome: 'failed' })).toBe(1);
    expect(await valueOf(registry, 'meridian_agent_messages_total')).toBe(1);
    expect(await valueOf(registry, 'meridian_chains_halted_total', { reason: 'max-hops' })).toBe(1);
  });

  it('counts as ingested only hop-0 events of entity and source streams', async () => {
    follower.record([
      recorded('default/entity-order-1', 'order.placed', {}, 0),
      recorded('acme/source-urn:shop', 'shop.ping', {}, 0),
      // Written into an entity stream by an agent: caused by the chain, not ingested.
      recorded('default/entity-order-1', 'order.flagged', {}, 2),
      recorded('default/agent-a1', 'agent.defined', {}, 0),
      recorded('default/mailbox-a1', 'mailbox.input-enqueued', {}, 0),
    ]);

    expect(await valueOf(registry, 'meridian_events_ingested_total')).toBe(2);
  });

  it('ignores runtime type names outside the streams the runtime writes them to', async () => {
    follower.record([
      recorded('default/entity-x', 'agent.decision-recorded', { engine: { type: 'rules' }, latencyMs: 1 }, 0),
      recorded('default/source-s', 'chain.halted', { reason: 'max-hops' }, 0),
    ]);

    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'rules', outcome: 'decided' })).toBeUndefined();
    expect(await valueOf(registry, 'meridian_chains_halted_total', { reason: 'max-hops' })).toBeUndefined();
    expect(await valueOf(registry, 'meridian_events_ingested_total')).toBe(2);
  });

  it('keeps counting after an event it cannot read, and reports it', async () => {
    follower.record([recorded('default/agent-a1', 'agent.decision-failed', null), decisionRecorded({ type: 'rules' }, 1)]);

    expect(errors).toHaveLength(1);
    expect(await valueOf(registry, 'meridian_decisions_total', { engine: 'rules', outcome: 'decided' })).toBe(1);
  });

  it('follows the store from its head at start: what was stored before is not counted', async () => {
    const store = new InMemoryEventStore();
    const followed = new RuntimeMetricsFollower(store, (registry = new Registry()));
    const ingest = (id: string): NewEvent => ({ eventId: id, type: 'order.placed', data: {}, metadata: metadata(0) });
    await store.append('default/entity-order-1', [ingest('before')], { expected: 'any' });

    await followed.start();
    await store.append('default/entity-order-2', [ingest('after-1'), ingest('after-2')], { expected: 'any' });

    const deadline = Date.now() + 5_000;
    while ((await valueOf(registry, 'meridian_events_ingested_total')) !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await followed.stop();
    await store.close();
    expect(await valueOf(registry, 'meridian_events_ingested_total')).toBe(2);
  });
});
